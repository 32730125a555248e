"""PostgreSQL on another machine is reached over TLS, checked against the organisation's CA: a real
PostgreSQL that takes TLS connections only (`hostssl`), and libpq's environment (PGSSLMODE,
PGSSLROOTCERT) read by all three clients of the database — the gateway's engine, its LISTEN
connection for the nodes' signalling (both asyncpg) and `jiseki backup` / `restore` (pg_dump /
pg_restore). docs/deployment.md says how to set it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from jiseki.cli import main
from jiseki.gateway.db.engine import make_engine
from jiseki.gateway.pki import CertificateAuthority
from tests.pg import PostgresServer, _bindir

from .conftest import Browser, RunningGateway

pytestmark = pytest.mark.skipif(_bindir() is None, reason="PostgreSQL is not installed (Debian package postgresql)")

PASSPHRASE = "correct horse battery staple 7"
CONNECTIONS = """SELECT count(*), bool_and(s.ssl), min(s.version)
FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = current_database()"""
LISTENER = """SELECT count(*), bool_and(s.ssl)
FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
WHERE a.datname = current_database() AND a.query LIKE 'LISTEN %'"""


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PostgresServer, Path]]:
    """The server and the root certificate its chain is checked against (another CA than the gateway's)."""
    ca = CertificateAuthority(tmp_path_factory.mktemp("db-ca") / "pki")
    ca.ensure_server_cert(("127.0.0.1",))
    server = PostgresServer(tls=(ca.server_cert_path, ca.server_key_path))
    try:
        yield server, ca.root_cert_path
    finally:
        server.stop()


@pytest.fixture
def database_url(tls_server: tuple[PostgresServer, Path], monkeypatch: pytest.MonkeyPatch) -> str:
    """The gateway fixture's database, with libpq's TLS settings as a systemd unit would set them."""
    server, root = tls_server
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(root))
    return server.new_database()


async def _rows(url: str, sql: str) -> tuple[object, ...]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return tuple((await conn.execute(text(sql))).one())
    finally:
        await engine.dispose()


def _config(path: Path, gateway: RunningGateway, database_url: str) -> Path:
    gw = gateway.config.gateway
    path.write_text(
        f'[gateway]\ndata_dir = "{gw.data_dir}"\ndatabase_url = "{database_url}"\nport = {gw.port}\n', "utf-8"
    )
    return path


async def test_the_gateway_its_signalling_and_backups_use_tls_checked_against_the_ca(
    gateway: RunningGateway, tls_server: tuple[PostgresServer, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = gateway.db_url()
    async with Browser(gateway, gateway.terminal_ssl()) as alice:
        status, _page, _r = await alice.login(gateway.staff["alice"])
        assert status == 303
        # the gateway's pool and its LISTEN connection (PostgreSQL signalling), then this check's own
        count, all_tls, version = await _rows(url, CONNECTIONS)
        listening = await _rows(url, LISTENER)
    assert isinstance(count, int) and count >= 3 and all_tls is True and str(version).startswith("TLSv1."), (
        count,
        all_tls,
        version,
    )

    assert listening == (1, True)  # the signalling's LISTEN connection is one of them

    monkeypatch.setenv("JISEKI_BACKUP_PASSPHRASE", PASSPHRASE)
    config = _config(tmp_path / "jiseki.toml", gateway, url)
    out = tmp_path / "jiseki.bak"
    assert await asyncio.to_thread(main, ["--config", str(config), "backup", str(out)]) == 0  # pg_dump
    server, _root = tls_server
    target = server.new_database()
    code = await asyncio.to_thread(
        main, ["restore", str(out), "--data-dir", str(tmp_path / "restored"), "--database-url", target]
    )
    assert code == 0  # pg_restore
    (staff,) = await _rows(target, "SELECT count(*) FROM users")
    assert isinstance(staff, int) and staff >= 3


async def test_a_server_whose_certificate_the_ca_did_not_sign_or_no_tls_is_refused(
    tls_server: tuple[PostgresServer, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, root = tls_server
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(root))
    url = server.new_database()
    assert (await _rows(url, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) == (True,)
    other = CertificateAuthority(tmp_path / "other-ca")
    other.ensure_server_cert(("127.0.0.1",))
    monkeypatch.setenv("PGSSLROOTCERT", str(other.root_cert_path))
    with pytest.raises(Exception, match="certificate verify failed"):
        await _rows(url, "SELECT 1")
    monkeypatch.setenv("PGSSLMODE", "disable")
    with pytest.raises(Exception, match=r"no pg_hba\.conf entry"):
        await _rows(url, "SELECT 1")
