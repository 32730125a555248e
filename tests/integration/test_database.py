"""The same Alembic migrations on SQLite and PostgreSQL, up and down, and the models on both."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from jiseki.gateway import audit
from jiseki.gateway.audit.store import seal, verify_chain
from jiseki.gateway.db.engine import alembic_config, make_engine, sessionmaker, upgrade_to_head
from jiseki.gateway.db.models import Host, Session, utcnow

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

TABLES = {
    "hosts",
    "sessions",
    "certificates",
    "terminals",
    "departments",
    "users",
    "assignments",
    "web_sessions",
    "enrollment_tokens",
    "audit_events",
    "host_groups",
    "policies",
    "audit_anchor",
    "audit_state",
    "recordings",
    "nodes",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    return request.getfixturevalue("postgres").new_database()


async def test_migrations_up_and_down(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert TABLES <= tables

        def downgrade(connection) -> None:  # type: ignore[no-untyped-def]
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "base")

        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not (TABLES & left)
        await upgrade_to_head(engine)  # and up again
    finally:
        await engine.dispose()


async def test_times_are_aware_utc_and_the_chain_works(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade_to_head(engine)
        db = sessionmaker(engine)
        started = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
        async with db.begin() as s:
            s.add(Host(id="pc-1", name="PC 1", cert_fingerprint="ab" * 32, cert_serial="1"))
            await s.flush()
            s.add(Session(id="s1", host_id="pc-1", state="ended", started_at=started, ended_at=utcnow()))
        async with db() as s:
            row = await s.get(Session, "s1")
        assert row is not None and row.started_at == started and row.started_at.tzinfo is not None
        for i in range(5):
            await audit.record(db, "login", "ok", actor=f"u{i}", n=i)
        assert await seal(db) == 5
        assert (await verify_chain(db)).ok
    finally:
        await engine.dispose()
