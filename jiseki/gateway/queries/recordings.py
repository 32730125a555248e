"""Session recordings: the console's list and one recording with its session, for playback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Recording, Session

if TYPE_CHECKING:
    from .paging import AnyRow

RECORDINGS_SHOWN = 200
MAX_SESSION_ID = 64


async def newest_recordings(s: AsyncSession) -> list[AnyRow]:
    """(recording, user, PC, start) of the newest recordings not deleted."""
    query = (
        select(Recording, Session.user_id, Session.host_id, Session.started_at)
        .join(Session, Session.id == Recording.session_id)
        .where(Recording.deleted_at.is_(None))
        .order_by(Recording.created_at.desc())
        .limit(RECORDINGS_SHOWN)
    )
    return list((await s.execute(query)).all())


async def playable(s: AsyncSession, session_id: str) -> tuple[Recording, Session] | None:
    """The recording of this session and the session, unless there is none or it was deleted."""
    row = await s.get(Recording, session_id) if len(session_id) <= MAX_SESSION_ID else None
    session = await s.get(Session, session_id) if row is not None else None
    if row is None or session is None or row.deleted_at is not None:
        return None
    return row, session
