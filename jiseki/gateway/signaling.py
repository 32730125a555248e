"""How one gateway node tells another something (a session offer for an agent whose control channel
it holds, or "close that session"): in-process when there is one node, PostgreSQL LISTEN/NOTIFY when
several share a database. Messages are small JSON objects addressed to a node id."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

CHANNEL = "jiseki_signal"
MAX_PAYLOAD = 7000  # PostgreSQL's NOTIFY payload limit is 8000 bytes
Handler = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]  # an async def: it runs as a task


class Signaling(Protocol):
    async def start(self, handler: Handler) -> None: ...
    async def send(self, node_id: str, message: dict[str, Any]) -> None: ...
    async def stop(self) -> None: ...


class LocalSignaling:
    """One node: messages to itself are delivered directly; there is nobody else."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._handler: Handler | None = None

    async def start(self, handler: Handler) -> None:
        self._handler = handler

    async def send(self, node_id: str, message: dict[str, Any]) -> None:
        if node_id != self.node_id or self._handler is None:
            raise ConnectionError(f"no route to gateway node {node_id!r}")
        await self._handler(message)

    async def stop(self) -> None:
        self._handler = None


class PostgresSignaling:
    """NOTIFY on a shared channel; each node listens and keeps the messages addressed to it."""

    def __init__(self, node_id: str, dsn: str, db: async_sessionmaker[AsyncSession]) -> None:
        self.node_id = node_id
        self.dsn = dsn
        self.db = db
        self._conn: Any = None
        self._handler: Handler | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        await self._listen()

    async def _listen(self) -> None:
        import asyncpg

        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(CHANNEL, self._on_notify)
        self._conn.add_termination_listener(self._on_lost)

    def _on_lost(self, _conn: Any) -> None:
        """The database restarted or the link broke: listen again as soon as it is back."""
        if self._handler is None:
            return
        log.warning("lost the LISTEN connection to PostgreSQL; reconnecting")
        task = asyncio.get_running_loop().create_task(self._reconnect())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconnect(self) -> None:
        delay = 0.5
        while self._handler is not None:
            try:
                await self._listen()
                log.info("listening to PostgreSQL notifications again")
                return
            except (OSError, ConnectionError) as exc:
                log.warning("PostgreSQL not reachable yet (%s); retrying in %.1f s", exc, delay)
            except Exception as exc:  # asyncpg raises its own error types while the server starts
                log.warning("PostgreSQL not ready yet (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("to") != self.node_id or self._handler is None:
            return
        task = asyncio.get_running_loop().create_task(self._handler(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, node_id: str, message: dict[str, Any]) -> None:
        payload = json.dumps({**message, "to": node_id}, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError("signal too large")
        async with self.db.begin() as s:
            await s.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})

    async def stop(self) -> None:
        self._handler = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1).replace(
        "postgresql+psycopg://", "postgresql://", 1
    )
