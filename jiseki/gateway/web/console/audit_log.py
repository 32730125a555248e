"""The audit log, newest first, for administrators and auditors (read-only): filters by dates (Japan
time, end date included), kind, actor, subject and outcome; every code in words; CSV and XLSX of the
filtered view (at most EXPORT_LIMIT rows, read in chunks), the download itself audited. A delegated
reader sees only the events of their scope (queries.audit_log.in_scope)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from jiseki.i18n import JST

from ...db.models import AuditEvent
from ...permissions import Action
from ...queries.audit_log import EventFilter, export_events, names_of, newest_events
from ..guards import STATE
from ..render import Translate
from .common import Actor, page, query_choice, query_text, render_console
from .exports import Column, audited_export
from .labels import KINDS, OUTCOMES
from .words import Described, describe, export_time, split_details

PAGE = 50
EXPORT_LIMIT = 100_000  # rows in one download; narrow the filter for more
MAX_DAYS_BACK = 366 * 20  # a date before this is a typo, not a search


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class EventView:
    row: AuditEvent
    changes: list[Change]
    details: list[tuple[str, Any]]
    words: Described | None = None  # the same, in words (what the pages show)


def view_of(row: AuditEvent) -> EventView:
    """Split `details` into field changes (before → after) and the other facts."""
    changes, facts = split_details(row.details)
    return EventView(row, [Change(*c) for c in changes], facts, describe(row.kind, row.outcome, row.details))


# ---- dates (shared with the session history) -----------------------------------------------------


def query_date(request: web.Request, name: str) -> dt.date | None:
    """A `<input type=date>` value (YYYY-MM-DD), or None if absent or not a plausible date."""
    raw = request.query.get(name, "")
    if len(raw) != 10:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    today = dt.datetime.now(JST).date()
    return day if (today - day).days < MAX_DAYS_BACK and day.year < dt.MAXYEAR else None  # the day after exists


def day_bounds(first: dt.date | None, last: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start of `first`, start of the day after `last`) in Japan time: the last day is included whole."""
    since = dt.datetime.combine(first, dt.time(), JST) if first else None
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), JST) if last else None
    return since, until


# ---- the page and its downloads ------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    filter: EventFilter
    params: dict[str, str]  # the filters as the page's links carry them


def _query(request: web.Request, actor: Actor) -> AuditQuery:
    kind = query_choice(request, "kind", tuple(KINDS))
    outcome = query_choice(request, "outcome", tuple(OUTCOMES))
    who = query_text(request, "actor", 64)
    subject = query_text(request, "subject", 128)
    first, last = query_date(request, "from"), query_date(request, "to")
    if first and last and last < first:
        first, last = last, first
    since, until = day_bounds(first, last)
    raw_before = request.query.get("before", "0")
    before = int(raw_before) if raw_before.isascii() and raw_before.isdigit() and len(raw_before) < 19 else 0
    params = {
        "from": first.isoformat() if first else "",
        "to": last.isoformat() if last else "",
        "kind": kind,
        "outcome": outcome,
        "actor": who,
        "subject": subject,
    }
    f = EventFilter(kind, outcome, who, subject, before, since, until, actor.scope)
    return AuditQuery(f, {k: v for k, v in params.items() if v})


@page(Action.VIEW_AUDIT)
async def audit_log(request: web.Request, actor: Actor) -> web.Response:
    q = _query(request, actor)
    async with request.app[STATE].db() as s:
        rows = await newest_events(s, q.filter, PAGE + 1)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        names = await names_of(s, _ids(rows), actor.scope)
    return render_console(
        request,
        "console/audit.html",
        events=[view_of(r) for r in rows],
        kinds=KINDS,
        outcomes=OUTCOMES,
        filters=q.params,
        older=rows[-1].id if more and rows else None,
        first_page=q.filter.before == 0,
        export_limit=EXPORT_LIMIT,
        names=names,
    )


def _ids(rows: list[AuditEvent]) -> set[str]:
    return {i for r in rows for i in (r.actor, r.subject) if i}


AUDIT_COLUMNS = (
    Column("Time", 20),
    Column("Event", 24),
    Column("Result", 8),
    Column("By", 14),
    Column("By (name)", 16),
    Column("Subject", 18),
    Column("Subject (name)", 16),
    Column("From address", 16),
    Column("Before → after, details", 80),
    Column("Event code", 20),
    Column("Record number", 10),
)


@page(Action.VIEW_AUDIT)
async def audit_export(request: web.Request, actor: Actor) -> web.StreamResponse:
    q = _query(request, actor)
    db = request.app[STATE].db

    async def rows(_: Translate) -> AsyncIterator[list[Any]]:
        async with db() as s:
            async for chunk in export_events(s, q.filter, EXPORT_LIMIT):
                names = await names_of(s, _ids(chunk), actor.scope)
                for e in chunk:
                    words = describe(e.kind, e.outcome, e.details)
                    yield [
                        export_time(e.ts),
                        words.kind.render(_),
                        words.outcome.render(_),
                        e.actor or "",
                        names.get(e.actor or "", ""),
                        e.subject or "",
                        names.get(e.subject or "", ""),
                        e.address or "",
                        words.details_text(_),
                        e.kind,
                        e.id,
                    ]

    return await audited_export(request, actor, "audit_exported", "audit", "Audit log", AUDIT_COLUMNS, q.params, rows)
