"""Remote sessions as the console lists them: the open ones and the history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Department, Host, Session, Terminal, User
from ..scope import WHOLE, Scope
from .paging import Page, Paging, count

if TYPE_CHECKING:
    from .paging import AnyRow, AnySelect

REQUEST_SHOWN_MINUTES = 2
LIVE_SHOWN = 200  # live sessions listed at once; the search narrows them (thousands may be live at 9:00)


def _query() -> AnySelect:
    return (
        select(
            Session.id,
            Session.state,
            Session.user_id,
            User.display_name,
            Department.name.label("department"),
            Session.terminal_id,
            Terminal.name.label("terminal_name"),
            Session.host_id,
            Host.name.label("host_name"),
            Session.created_at,
            Session.started_at,
            Session.ended_at,
            Session.end_reason,
            Session.end_message,
            Session.ended_by,
            Session.viewer_address,
            Session.node_id,
            (Session.bytes_to_viewer + Session.bytes_to_agent).label("bytes"),
        )
        .outerjoin(User, User.id == Session.user_id)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(Terminal, Terminal.id == Session.terminal_id)
        .outerjoin(Host, Host.id == Session.host_id)
    )


def _open(now: dt.datetime) -> ColumnElement[bool]:
    """Live sessions, and requests of the last minutes (an unused ticket leaves a 'requested' row)."""
    recent = now - dt.timedelta(minutes=REQUEST_SHOWN_MINUTES)
    # The IN first, so the state index narrows the search before the OR is looked at.
    return and_(
        Session.state.in_(("live", "requested")),
        or_(Session.state == "live", Session.created_at > recent),
    )


def _search(q: str) -> list[ColumnElement[bool]]:
    if not q:
        return []
    return [
        or_(
            Session.user_id.icontains(q, autoescape=True),
            Session.host_id.icontains(q, autoescape=True),
            Session.terminal_id.icontains(q, autoescape=True),
        )
    ]


@dataclass(frozen=True)
class SessionLists:
    live: list[AnyRow]  # open sessions, newest first, at most LIVE_SHOWN
    live_total: int
    history: Page[AnyRow]  # ended sessions, the latest end first


async def session_lists(
    s: AsyncSession, q: str, page: int, size: int, now: dt.datetime, scope: Scope = WHOLE
) -> SessionLists:
    """The open sessions and one page of the history, matching `q` within `scope`; four statements
    whatever the rows."""
    live_conds = [_open(now), *_search(q), scope.sessions()]
    live_total = await count(s, select(func.count()).select_from(Session).where(*live_conds))
    live = (await s.execute(_query().where(*live_conds).order_by(Session.created_at.desc()).limit(LIVE_SHOWN))).all()
    # Ended sessions are those with an end time: filter and order on the one ended_at index.
    conds = [Session.ended_at.is_not(None), *_search(q), scope.sessions()]
    paging = Paging.at(page, await count(s, select(func.count()).select_from(Session).where(*conds)), size)
    # The page's IDs first (on the ended_at index), then the joins for those rows only.
    page_ids = (
        select(Session.id.label("id"))
        .where(*conds)
        .order_by(Session.ended_at.desc(), Session.id)
        .limit(paging.size)
        .offset(paging.offset)
        .subquery()
    )
    history = (
        await s.execute(
            _query().join(page_ids, page_ids.c.id == Session.id).order_by(Session.ended_at.desc(), Session.id)
        )
    ).all()
    return SessionLists(list(live), live_total, Page(history, paging))


async def session_row(s: AsyncSession, session_id: str, scope: Scope = WHOLE) -> AnyRow | None:
    """One session with its user, department, terminal and PC names, or None (also outside `scope`)."""
    if not 0 < len(session_id) <= 64:
        return None
    return (await s.execute(_query().where(Session.id == session_id, scope.sessions()))).one_or_none()
