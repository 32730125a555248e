"""The session history (接続履歴) as the console lists and exports it: sessions that started, newest
first, with the person, department, PC and terminal by name; filtered by start date, person, PC,
department and end reason; always within the reader's scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Department, Host, Session, User
from ..scope import WHOLE, Scope
from .paging import Page, Paging, count
from .sessions import _query as session_columns  # the same columns and names as the live list

if TYPE_CHECKING:
    from .paging import AnyRow

LIVE = "live"  # the reason filter's value for sessions not ended yet


@dataclass(frozen=True)
class HistoryFilter:
    since: dt.datetime | None = None  # started at or after
    until: dt.datetime | None = None  # started before
    person: str = ""  # login ID, or part of the name or reading
    pc: str = ""  # PC ID, or part of its name
    department_id: int | None = None
    reason: str = ""  # an end reason, or LIVE
    scope: Scope = field(default=WHOLE)


def person_matches(person: str) -> ColumnElement[bool]:
    """Sessions of this login ID, or of staff whose name or reading contains `person`."""
    named = select(User.id).where(
        or_(User.display_name.contains(person, autoescape=True), User.reading.contains(person, autoescape=True))
    )
    return or_(Session.user_id == person, Session.user_id.in_(named))


def conditions(f: HistoryFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Session.started_at.is_not(None), f.scope.sessions()]
    if f.since is not None:
        conds.append(Session.started_at >= f.since)
    if f.until is not None:
        conds.append(Session.started_at < f.until)
    if f.person:
        conds.append(person_matches(f.person))
    if f.pc:
        conds.append(
            or_(
                Session.host_id == f.pc,
                Session.host_id.in_(select(Host.id).where(Host.name.contains(f.pc, autoescape=True))),
            )
        )
    if f.department_id is not None:
        conds.append(Session.user_id.in_(select(User.id).where(User.department_id == f.department_id)))
    if f.reason == LIVE:
        conds.append(Session.ended_at.is_(None))
    elif f.reason:
        conds.append(Session.end_reason == f.reason)
    return conds


async def history_page(s: AsyncSession, f: HistoryFilter, page: int, size: int) -> Page[AnyRow]:
    """One page, newest start first: the count, the page's IDs (on the started_at index), then names."""
    conds = conditions(f)
    paging = Paging.at(page, await count(s, select(func.count()).select_from(Session).where(*conds)), size)
    ids = (
        select(Session.id.label("id"))
        .where(*conds)
        .order_by(Session.started_at.desc(), Session.id)
        .limit(paging.size)
        .offset(paging.offset)
        .subquery()
    )
    query = session_columns().join(ids, ids.c.id == Session.id).order_by(Session.started_at.desc(), Session.id)
    return Page((await s.execute(query)).all(), paging)


async def history_rows(s: AsyncSession, f: HistoryFilter, limit: int, chunk: int = 2000) -> AsyncIterator[AnyRow]:
    """Every row of the filter (at most `limit`), newest start first, read `chunk` at a time."""
    conds = conditions(f)
    after: tuple[dt.datetime, str] | None = None
    left = limit
    while left > 0:
        query = session_columns().where(*conds)
        if after is not None:  # keyset: (started_at desc, id asc)
            query = query.where(
                or_(Session.started_at < after[0], (Session.started_at == after[0]) & (Session.id > after[1]))
            )
        query = query.order_by(Session.started_at.desc(), Session.id).limit(min(chunk, left))
        rows = (await s.execute(query)).all()
        for row in rows:
            yield row
        if len(rows) < min(chunk, left):
            return
        left -= len(rows)
        after = (rows[-1].started_at, rows[-1].id)


async def departments_in_scope(s: AsyncSession, scope: Scope) -> list[tuple[int, str]]:
    """(id, name) of the departments whose staff the reader may see, by name."""
    query = select(Department.id, Department.name).order_by(Department.name)
    if not scope.everything:
        query = query.where(Department.id.in_(select(User.department_id).where(scope.users())))
    return [(int(i), str(n)) for i, n in (await s.execute(query)).all()]
