"""The audit log, newest first, for administrators and auditors (read-only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ...db.models import AuditEvent
from ...queries.audit_log import EventFilter, newest_events
from ..guards import STATE
from .common import Actor, page, query_choice, query_text, render_console
from .labels import KINDS
from .permissions import Action

PAGE = 50

OUTCOMES = ("ok", "denied", "error")


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


def view_of(row: AuditEvent) -> EventView:
    """Split `details` into field changes (before → after) and the other facts."""
    try:
        details = json.loads(row.details) if row.details else {}
    except ValueError:  # an over-long record was cut; show it as text
        return EventView(row, [], [("details", row.details)])
    if not isinstance(details, dict):
        return EventView(row, [], [("details", details)])
    before = details.pop("before", None)
    after = details.pop("after", None)
    changes: list[Change] = []
    if isinstance(before, dict) or isinstance(after, dict):
        b = before if isinstance(before, dict) else {}
        a = after if isinstance(after, dict) else {}
        changes = [Change(k, b.get(k), a.get(k)) for k in dict.fromkeys([*b, *a])]
    facts = sorted((k, v) for k, v in details.items() if v not in ("", None))
    return EventView(row, changes, facts)


@page(Action.VIEW_AUDIT)
async def audit_log(request: web.Request, actor: Actor) -> web.Response:
    kind = query_choice(request, "kind", tuple(KINDS))
    outcome = query_choice(request, "outcome", OUTCOMES)
    who = query_text(request, "actor", 64)
    subject = query_text(request, "subject", 128)
    try:
        before = int(request.query.get("before", "0"))
    except ValueError:
        before = 0
    async with request.app[STATE].db() as s:
        rows = await newest_events(s, EventFilter(kind, outcome, who, subject, before), PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    params = {k: v for k, v in (("kind", kind), ("outcome", outcome), ("actor", who), ("subject", subject)) if v}
    return render_console(
        request,
        "console/audit.html",
        events=[view_of(r) for r in rows],
        kinds=KINDS,
        outcomes=OUTCOMES,
        filters=params,
        older=rows[-1].id if more and rows else None,
        first_page=before == 0,
    )
