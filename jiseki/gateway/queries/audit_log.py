"""The audit trail as the console reads it: filtered and paged by id, and the events about one thing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import AuditEvent

EVENTS_ABOUT_SHOWN = 20  # on an account's, a PC's or a terminal's page


@dataclass(frozen=True)
class EventFilter:
    kind: str = ""
    outcome: str = ""
    actor: str = ""
    subject: str = ""
    before: int = 0  # only events older than this id (keyset paging); 0: from the newest


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
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
