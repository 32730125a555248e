"""Create the async engine and bring the schema to the newest migration."""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _create_private_sqlite_file(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (it would use the umask, often 0644). SQLite
    gives the -wal and -shm files the database file's permissions, so they are private too."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # an existing file is left as it is


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10) -> AsyncEngine:
    _create_private_sqlite_file(url)
    engine = create_async_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files(__package__).joinpath("migrations")))
    return cfg


_MIGRATION_LOCK = 0x6A69_7365_0001
# Alembic keeps its running context in module globals: one migration at a time in this process.
# An asyncio lock per event loop queues coroutines without blocking their loop; the thread lock then
# covers loops running in other threads (an asyncio lock is bound to the first loop that waits on it).
_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_thread_lock = threading.Lock()


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several nodes may start together: the first migrates, the others wait and find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    with _thread_lock:
        command.upgrade(cfg, "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    lock = _loop_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock, engine.begin() as conn:
        await conn.run_sync(_upgrade)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def answers(db: async_sessionmaker[AsyncSession]) -> None:
    """Raise unless the database answers a trivial query (the node's readiness check)."""
    async with db() as s:
        await s.execute(text("SELECT 1"))
