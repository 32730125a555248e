"""Gateway nodes sharing one database: each writes a heartbeat; a node whose heartbeat stops is
declared dead by any other node, which cleans up after it (its agents offline, its sessions ended)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db.models import Host, Node, Session, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 5.0
DEAD_AFTER = dt.timedelta(seconds=20)


class NodeRegistry:
    def __init__(self, db: async_sessionmaker[AsyncSession], node_id: str, url: str) -> None:
        self.db = db
        self.node_id = node_id
        self.on_dead: Callable[[str], None] | None = None  # told of each node found dead (alerts)
        self.url = url

    async def register(self) -> None:
        """Start fresh: whatever this node held before a restart is gone."""
        async with self.db.begin() as s:
            await s.execute(delete(Node).where(Node.id == self.node_id))
            s.add(Node(id=self.node_id, url=self.url))
        await self._forget(self.node_id, "gateway_shutdown")

    async def deregister(self) -> None:
        await self._forget(self.node_id, "gateway_shutdown")
        async with self.db.begin() as s:
            await s.execute(delete(Node).where(Node.id == self.node_id))

    async def set_draining(self) -> None:
        async with self.db.begin() as s:
            await s.execute(update(Node).where(Node.id == self.node_id).values(draining=True))

    async def alive(self) -> dict[str, Node]:
        cutoff = utcnow() - DEAD_AFTER
        async with self.db() as s:
            rows = (await s.execute(select(Node).where(Node.heartbeat_at >= cutoff))).scalars().all()
        return {n.id: n for n in rows}

    async def beat(self) -> list[str]:
        """Write this node's heartbeat; declare nodes without one dead. Returns the dead nodes."""
        now = utcnow()
        async with self.db.begin() as s:
            await s.execute(update(Node).where(Node.id == self.node_id).values(heartbeat_at=now))
            dead = list((await s.execute(select(Node.id).where(Node.heartbeat_at < now - DEAD_AFTER))).scalars())
        for node_id in dead:
            log.warning("gateway node %s stopped beating: cleaning up after it", node_id)
            if self.on_dead is not None:
                self.on_dead(node_id)
            await self._forget(node_id, "network")
            async with self.db.begin() as s:
                await s.execute(delete(Node).where(Node.id == node_id))
        return dead

    async def _forget(self, node_id: str, reason: str) -> None:
        async with self.db.begin() as s:
            await s.execute(update(Host).where(Host.control_node == node_id).values(online=False, control_node=None))
            await s.execute(
                update(Session)
                .where(Session.node_id == node_id, Session.state != "ended")
                .values(state="ended", ended_at=utcnow(), end_reason=reason)
            )

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception:
                log.exception("node heartbeat failed")
            await asyncio.sleep(HEARTBEAT_INTERVAL)
