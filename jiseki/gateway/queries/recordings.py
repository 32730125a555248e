"""Session recordings: the console's list (person, PC, date, length, size; filtered, within the
reader's scope) and one recording with its session, for playback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Recording, Session
from ..scope import WHOLE, Scope
from .history import HistoryFilter, conditions
from .sessions import _query as session_columns

if TYPE_CHECKING:
    from .paging import AnyRow

RECORDINGS_SHOWN = 200
MAX_SESSION_ID = 64


async def newest_recordings(s: AsyncSession, f: HistoryFilter | None = None) -> list[AnyRow]:
    """The newest recordings not deleted (at most RECORDINGS_SHOWN) of the sessions `f` finds (dates,
    person, scope), with the names of the person, their department and the PC."""
    query = (
        session_columns()
        .add_columns(Recording.bytes.label("size"), Recording.duration_ms)
        .join(Recording, Recording.session_id == Session.id)
        .where(Recording.deleted_at.is_(None), *conditions(f or HistoryFilter()))
        .order_by(Recording.created_at.desc())
        .limit(RECORDINGS_SHOWN)
    )
    return list((await s.execute(query)).all())


async def playable(s: AsyncSession, session_id: str, scope: Scope = WHOLE) -> tuple[Recording, Session] | None:
    """The recording of this session and the session, unless there is none, it was deleted, or the
    session is outside `scope` (then it is "not found", like one that does not exist)."""
    row = await s.get(Recording, session_id) if len(session_id) <= MAX_SESSION_ID else None
    session = await s.get(Session, session_id) if row is not None else None
    if row is None or session is None or row.deleted_at is not None:
        return None
    if not scope.everything and not await scope.has_session(s, session_id):
        return None
    return row, session
