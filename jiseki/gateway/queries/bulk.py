"""Which rows a bulk action in a list applies to: the list's own filter, run again, within the
actor's scope (所掌範囲), optionally narrowed to the rows ticked on the page.

The filter is never rebuilt here: each kind takes the list's query function (or its filter
clauses) and adds the scope, so that "all N matching" is exactly what the list counted, and ticked
IDs sent in a crafted request that lie outside the filter or the scope select nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Select, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ..db.models import Assignment, Department, Host, Session, Terminal, User
from ..scope import Scope
from . import pcs, staff
from .sessions import _open as open_sessions
from .sessions import _query as session_rows
from .sessions import _search as session_search
from .terminals import _filters as terminal_filters

if TYPE_CHECKING:
    from .paging import AnyRow, AnySelect

MAX_BULK = 5000  # rows one bulk action may change
PREVIEW_ROWS = 200  # rows the preview lists by name
CHUNK = 500  # IDs per IN list
KINDS = ("staff", "pcs", "sessions", "terminals")


@dataclass(frozen=True)
class Filters:
    """A list's filter as its page had it (the same names as the list's query string)."""

    q: str = ""
    role: str = ""
    state: str = ""
    department: int | None = None  # the staff list's department filter (an ID)


@dataclass(frozen=True)
class Selection:
    ids: list[str]  # in the list's order; at most MAX_BULK + 1 (more means "too many")
    total: int  # how many match (over MAX_BULK: the action is refused)

    @property
    def too_many(self) -> bool:
        return self.total > MAX_BULK


def _narrowed(query: Select[str], column: InstrumentedAttribute[str], ticked: Sequence[str] | None) -> Select[str]:
    return query if ticked is None else query.where(column.in_(list(ticked)))


def _ids_and_count(
    kind: str, f: Filters, scope: Scope, now: dt.datetime
) -> tuple[Select[str], InstrumentedAttribute[str]]:
    """The list's own filtered query (FROM and WHERE, no paging) reduced to its IDs, with the scope."""
    if kind == "staff":
        listed = staff.StaffFilter(f.q, f.role, f.state, f.department, scope)
        count = staff.staff_query(listed, now, "id", 0, 0)[1]
        return count.with_only_columns(User.id).order_by(User.id), User.id
    if kind == "pcs":
        count = pcs.pc_query(f.q, f.state, 0, 0)[1]
        return count.with_only_columns(Host.id).where(scope.hosts()).order_by(Host.name, Host.id), Host.id
    if kind == "sessions":  # the live list: open sessions matching the search
        query = select(Session.id).where(open_sessions(now), *session_search(f.q), scope.sessions())
        return query.order_by(Session.created_at.desc(), Session.id), Session.id
    if kind == "terminals":  # terminals belong to no department: outside every delegated scope
        query = select(Terminal.id).where(*terminal_filters(f.q, f.state), true() if scope.everything else false())
        return query.order_by(Terminal.id), Terminal.id
    raise ValueError(kind)


async def select_rows(
    s: AsyncSession, kind: str, f: Filters, scope: Scope, now: dt.datetime, ticked: Sequence[str] | None
) -> Selection:
    """The rows a bulk action would change: all matching the filter (`ticked` None) or the ticked
    ones among them. Two statements: the count and the IDs (at most MAX_BULK + 1)."""
    query, column = _ids_and_count(kind, f, scope, now)
    query = _narrowed(query, column, ticked)
    total = int((await s.execute(select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one())
    ids = list((await s.execute(query.limit(MAX_BULK + 1))).scalars())
    return Selection(ids, total)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


async def preview_rows(s: AsyncSession, kind: str, ids: Sequence[str]) -> list[AnyRow]:
    """The first PREVIEW_ROWS of `ids` with what identifies them to a person, in `ids`' order."""
    shown = list(ids[:PREVIEW_ROWS])
    query: AnySelect
    if kind == "staff":
        query = (
            select(User.id, User.display_name, Department.name.label("department"), User.role, User.disabled)
            .outerjoin(Department, Department.id == User.department_id)
            .where(User.id.in_(shown))
        )
    elif kind == "pcs":
        assigned = select(func.count()).where(Assignment.host_id == Host.id).correlate(Host).scalar_subquery()
        query = select(Host.id, Host.name, Host.hostname, Host.online, assigned.label("assigned")).where(
            Host.id.in_(shown)
        )
    elif kind == "sessions":
        query = session_rows().where(Session.id.in_(shown))
    elif kind == "terminals":
        query = select(Terminal.id, Terminal.name, Terminal.state).where(Terminal.id.in_(shown))
    else:
        raise ValueError(kind)
    rows = {r.id: r for r in (await s.execute(query)).all()}
    return [rows[i] for i in shown if i in rows]


async def live_sessions_of(s: AsyncSession, user_ids: Sequence[str]) -> list[str]:
    """The open sessions (requested or live) of these staff members."""
    found: list[str] = []
    for chunk in _chunks(user_ids):
        query = select(Session.id).where(Session.user_id.in_(chunk), Session.state.in_(("requested", "live")))
        found += list((await s.execute(query.order_by(Session.id))).scalars())
    return found


async def department_in_scope(s: AsyncSession, name: str, scope: Scope) -> bool:
    """May staff be moved into the department `name`? Any department for the main administrators
    (a new name creates it, as in the account form); an existing one of the scope otherwise."""
    if scope.everything:
        return True
    found = (await s.execute(select(Department.id).where(Department.name == name))).scalar_one_or_none()
    return found is not None and found in scope.departments
