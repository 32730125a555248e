"""Recordings of sessions: where their files live, their database rows, retention and deletion.
Every deletion (by retention or by an administrator) is audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.config import Config
from jiseki.protocol import Refresh, encode

from . import audit
from .broker import PendingSession
from .db.models import Recording, utcnow
from .recording import KEYFRAME_INTERVAL, Recorder

log = logging.getLogger(__name__)


def recordings_dir(config: Config) -> Path:
    return Path(config.audit.recordings_dir) if config.audit.recordings_dir else config.gateway.data_dir / "recordings"


def start(config: Config, pending: PendingSession) -> Recorder:
    path = recordings_dir(config) / utcnow().strftime("%Y%m") / f"{pending.id}.jrec.gz"
    metadata = {
        "session": pending.id,
        "host": pending.host_id,
        "user": pending.user_id,
        "terminal": pending.terminal_id,
        "started": utcnow().isoformat(),
    }
    return Recorder(path, metadata)


async def keyframes(agent_ws: web.WebSocketResponse, interval: float = KEYFRAME_INTERVAL) -> None:
    """Ask the agent for a full picture now and then, so playback can seek without replaying everything."""
    while True:
        await asyncio.sleep(interval)
        await agent_ws.send_bytes(encode(Refresh()))


async def finish(db: async_sessionmaker[AsyncSession], pending: PendingSession, recorder: Recorder) -> None:
    size = await recorder.close()
    async with db.begin() as s:
        s.add(
            Recording(
                session_id=pending.id,
                path=str(recorder.path),
                bytes=size,
                duration_ms=recorder.stats.duration_ms,
                frames=recorder.stats.frames,
            )
        )
        s.add(
            audit.event(
                "recording_saved",
                "ok",
                actor=pending.user_id,
                subject=pending.host_id,
                session=pending.id,
                bytes=size,
                duration_ms=recorder.stats.duration_ms,
            )
        )


async def delete(db: async_sessionmaker[AsyncSession], session_id: str, actor: str | None, reason: str) -> bool:
    async with db.begin() as s:
        row = await s.get(Recording, session_id)
        if row is None or row.deleted_at is not None:
            return False
        await asyncio.to_thread(Path(row.path).unlink, missing_ok=True)
        row.deleted_at, row.deleted_by = utcnow(), actor
        s.add(audit.event("recording_deleted", "ok", actor=actor, subject=session_id, reason=reason, bytes=row.bytes))
    return True


async def purge_before(db: async_sessionmaker[AsyncSession], cutoff: dt.datetime) -> int:
    async with db() as s:
        ids = list(
            (
                await s.execute(
                    select(Recording.session_id).where(Recording.created_at < cutoff, Recording.deleted_at.is_(None))
                )
            ).scalars()
        )
    for session_id in ids:
        await delete(db, session_id, "retention", "retention")
    return len(ids)
