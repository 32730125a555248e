"""The session history (接続履歴): who used which office PC, when, how long, how much data, and why it
ended, in words; filters by start date (Japan time, end date included), person, PC, department and
end reason; CSV and XLSX of the filtered view (the download audited). Within the reader's scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from jiseki.i18n import N_

from ...db.models import utcnow
from ...end_reasons import END_REASON_LABELS
from ...permissions import Action
from ...queries import history as queries
from ...queries.history import LIVE, HistoryFilter
from ..guards import STATE
from ..render import Translate
from .audit_log import day_bounds, query_date
from .common import PAGE_SIZE, Actor, page, page_number, query_choice, query_text, render_console
from .exports import Column, audited_export
from .words import end_reason_words, export_time, hours_minutes, size_words

EXPORT_LIMIT = 100_000
REASONS = {LIVE: N_("Still connected"), **END_REASON_LABELS}


def _filter(request: web.Request, actor: Actor) -> tuple[HistoryFilter, dict[str, str]]:
    first, last = query_date(request, "from"), query_date(request, "to")
    if first and last and last < first:
        first, last = last, first
    since, until = day_bounds(first, last)
    person = query_text(request, "person", 64)
    pc = query_text(request, "pc", 64)
    reason = query_choice(request, "reason", tuple(REASONS))
    raw_department = request.query.get("department", "")
    valid = raw_department.isascii() and raw_department.isdigit() and len(raw_department) < 10
    department_id = int(raw_department) if valid else None
    params = {
        "from": first.isoformat() if first else "",
        "to": last.isoformat() if last else "",
        "person": person,
        "pc": pc,
        "department": str(department_id) if department_id is not None else "",
        "reason": reason,
    }
    f = HistoryFilter(since, until, person, pc, department_id, reason, actor.scope)
    return f, {k: v for k, v in params.items() if v}


def _seconds(row: Any, now: dt.datetime) -> float | None:
    if row.started_at is None:
        return None
    return float(((row.ended_at or now) - row.started_at).total_seconds())


@page(Action.VIEW)
async def history_page(request: web.Request, actor: Actor) -> web.Response:
    f, params = _filter(request, actor)
    now = utcnow()
    async with request.app[STATE].db() as s:
        found = await queries.history_page(s, f, page_number(request), PAGE_SIZE)
        departments = await queries.departments_in_scope(s, actor.scope)
    return render_console(
        request,
        "console/session_history.html",
        section="history",
        rows=found.rows,
        paging=found.paging,
        filters=params,
        departments=departments,
        reasons=REASONS,
        duration=lambda r: hours_minutes(_seconds(r, now)),
        size=size_words,
        reason_words=end_reason_words,
        export_limit=EXPORT_LIMIT,
    )


HISTORY_COLUMNS = (
    Column("Staff member", 16),
    Column("Login ID", 12),
    Column("Department", 16),
    Column("Office PC", 16),
    Column("Terminal", 16),
    Column("Started", 20),
    Column("Ended", 20),
    Column("Duration (h:min)", 10),
    Column("Data (bytes)", 14),
    Column("How it ended", 24),
    Column("Administrator's message", 30),
    Column("Ended by", 12),
    Column("From address", 16),
)


@page(Action.VIEW)
async def history_export(request: web.Request, actor: Actor) -> web.StreamResponse:
    f, params = _filter(request, actor)
    db = request.app[STATE].db
    now = utcnow()

    async def rows(_: Translate) -> AsyncIterator[list[Any]]:
        async with db() as s:
            async for r in queries.history_rows(s, f, EXPORT_LIMIT):
                yield [
                    r.display_name or "",
                    r.user_id or "",
                    r.department or "",
                    r.host_name or r.host_id,
                    r.terminal_name or r.terminal_id or "",
                    export_time(r.started_at),
                    export_time(r.ended_at),
                    hours_minutes(_seconds(r, now)),
                    int(r.bytes or 0),
                    end_reason_words(r.end_reason).render(_) if r.ended_at else _("Still connected"),
                    r.end_message or "",
                    r.ended_by or "",
                    r.viewer_address or "",
                ]

    title = "Session history"
    return await audited_export(request, actor, "sessions_exported", "sessions", title, HISTORY_COLUMNS, params, rows)
