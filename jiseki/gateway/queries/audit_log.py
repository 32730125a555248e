"""The audit trail as the console reads it: filtered and paged by id, and the events about one thing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, String, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import AuditEvent, Department, Host, HostGroup, Session, User
from ..scope import WHOLE, Scope

EVENTS_ABOUT_SHOWN = 20  # on an account's, a PC's or a terminal's page


@dataclass(frozen=True)
class EventFilter:
    kind: str = ""
    outcome: str = ""
    actor: str = ""
    subject: str = ""
    before: int = 0  # only events older than this id (keyset paging); 0: from the newest
    since: dt.datetime | None = None  # at or after (the start of the first day, Japan time)
    until: dt.datetime | None = None  # before (the start of the day after the last day)
    scope: Scope = WHOLE


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """Events a delegated reader may see: done by, or done to, a staff member, an office PC or a
    session of their scope (subjects are login IDs, PC IDs or session IDs, depending on the kind),
    and the policies of their departments and PC groups (subject `department:<name>`)."""
    if scope.everything:
        return true()
    sessions = select(Session.id).where(scope.sessions())
    policies = select(literal("department:", String) + Department.name).where(Department.id.in_(scope.departments))
    group_policies = select(literal("host_group:", String) + HostGroup.name).where(HostGroup.id.in_(scope.host_groups))
    return or_(
        scope.users(AuditEvent.actor),
        scope.users(AuditEvent.subject),
        scope.hosts(AuditEvent.subject),
        AuditEvent.subject.in_(sessions),
        AuditEvent.subject.in_(policies),
        AuditEvent.subject.in_(group_policies),
    )


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [in_scope(f.scope)]
    if f.since is not None:
        conds.append(AuditEvent.ts >= f.since)
    if f.until is not None:
        conds.append(AuditEvent.ts < f.until)
    if f.kind:
        conds.append(AuditEvent.kind == f.kind)
    if f.outcome:
        conds.append(AuditEvent.outcome == f.outcome)
    if f.actor:
        conds.append(AuditEvent.actor == f.actor)
    if f.subject:
        conds.append(AuditEvent.subject == f.subject)
    if f.before > 0:
        conds.append(AuditEvent.id < f.before)
    return conds


async def newest_events(s: AsyncSession, f: EventFilter, limit: int) -> list[AuditEvent]:
    """Newest first. Keyset paging (id < last seen): page 1,000 costs what page 1 does."""
    query = select(AuditEvent).where(*_conditions(f)).order_by(AuditEvent.id.desc()).limit(limit)
    return list((await s.execute(query)).scalars())


async def export_events(
    s: AsyncSession, f: EventFilter, limit: int, chunk: int = 2000
) -> AsyncIterator[list[AuditEvent]]:
    """Newest first, at most `limit`, in lists of `chunk` (keyset: each chunk costs the same)."""
    left, before = limit, f.before
    while left > 0:
        query = (
            select(AuditEvent)
            .where(*_conditions(replace(f, before=before)))
            .order_by(AuditEvent.id.desc())
            .limit(min(chunk, left))
        )
        rows = list((await s.execute(query)).scalars())
        if rows:
            yield rows
        if len(rows) < min(chunk, left):
            return
        left -= len(rows)
        before = rows[-1].id


async def names_of(s: AsyncSession, ids: set[str], scope: Scope) -> dict[str, str]:
    """The names of the staff members and office PCs among `ids` (actors and subjects), within `scope`."""
    wanted = [i for i in ids if 0 < len(i) <= 64]
    if not wanted:
        return {}
    people = select(User.id, User.display_name).where(User.id.in_(wanted), scope.users())
    pcs = select(Host.id, Host.name).where(Host.id.in_(wanted), scope.hosts())
    found = {str(i): str(n) for i, n in (await s.execute(pcs)).all()}
    found.update({str(i): str(n) for i, n in (await s.execute(people)).all()})
    return found


async def events_about(s: AsyncSession, subject: str, limit: int = EVENTS_ABOUT_SHOWN) -> list[AuditEvent]:
    """The newest events whose subject is this PC or terminal."""
    query = select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.id.desc()).limit(limit)
    return list((await s.execute(query)).scalars())


async def events_of_account(s: AsyncSession, login_id: str, limit: int = EVENTS_ABOUT_SHOWN) -> list[AuditEvent]:
    """The newest events done by or to this account."""
    query = (
        select(AuditEvent)
        .where(or_(AuditEvent.subject == login_id, AuditEvent.actor == login_id))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list((await s.execute(query)).scalars())
