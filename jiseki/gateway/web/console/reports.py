"""Usage reports (利用状況) with a chart and CSV/XLSX export, and the list of recordings; both within
the reader's scope. Dates are Japan dates and both ends are included; times are shown as 時間:分."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from jiseki.i18n import JST

from ... import audit, reports
from ...db.models import utcnow
from ...permissions import Action
from ...queries.history import HistoryFilter
from ...queries.recordings import RECORDINGS_SHOWN, newest_recordings
from ..guards import STATE
from ..render import translator
from .audit_log import day_bounds, query_date
from .common import Actor, page, query_choice, query_text, render_console
from .words import hours_minutes_seconds, size_words

MAX_DAYS = 400
CHART_W, CHART_H, CHART_LEFT, CHART_BOTTOM = 720, 220, 48, 26


@dataclass(frozen=True)
class ChartBar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


def _dates(request: web.Request) -> tuple[dt.date, dt.date]:
    """[first, last) for the queries, from the form's first and last day (both included)."""
    today = dt.datetime.now(JST).date()
    to = query_date(request, "to") or today
    first = query_date(request, "from") or to - dt.timedelta(days=29)
    if to < first:
        first, to = to, first
    if (to - first).days >= MAX_DAYS:
        first = to - dt.timedelta(days=MAX_DAYS - 1)
    return first, to + dt.timedelta(days=1)


def _chart(rows: list[reports.Row]) -> tuple[list[ChartBar], float]:
    """Bars of total hours per period (all groups added up), scaled to the chart's height."""
    totals: dict[dt.date, float] = {}
    for r in rows:
        totals[r.period] = totals.get(r.period, 0.0) + r.hours
    if not totals:
        return [], 0.0
    top = max(max(totals.values()), 1.0)
    inner_w, inner_h = CHART_W - CHART_LEFT - 8, CHART_H - CHART_BOTTOM - 10
    step = inner_w / len(totals)
    bars = []
    for i, (day, hours) in enumerate(sorted(totals.items())):
        height = inner_h * hours / top
        bars.append(
            ChartBar(
                day.isoformat()[5:],
                round(hours, 1),
                CHART_LEFT + i * step + 1,
                CHART_H - CHART_BOTTOM - height,
                max(step - 2, 1),
                height,
            )
        )
    return bars, top


async def _report(
    request: web.Request, actor: Actor
) -> tuple[dt.date, dt.date, str, str, list[reports.Row], list[reports.Span]]:
    state = request.app[STATE]
    first, last = _dates(request)
    period = query_choice(request, "by", reports.PERIODS) or "day"
    group = query_choice(request, "group", reports.GROUPS) or "all"
    async with state.db() as s:
        spans = await reports.load_spans(s, first, last, utcnow(), actor.scope)
        every = await reports.department_names(s, actor.scope) if group == "department" else []
    # A month of a prefecture's sessions is a second of CPU: in a worker thread, off the event loop.
    rows = await asyncio.to_thread(reports.usage, spans, first, last, period, group, every)
    return first, last, period, group, rows, spans


@page(Action.REPORTS)
async def report_page(request: web.Request, actor: Actor) -> web.Response:
    first, last, period, group, rows, spans = await _report(request, actor)
    bars, top = _chart(rows)
    return render_console(
        request,
        "console/reports.html",
        section="reports",
        rows=rows,
        first=first,
        last=last - dt.timedelta(days=1),
        period=period,
        group=group,
        bars=bars,
        top=top,
        hours=await asyncio.to_thread(reports.by_hour, spans, first, last),
        chart_w=CHART_W,
        chart_h=CHART_H,
        chart_left=CHART_LEFT,
        baseline=CHART_H - CHART_BOTTOM,
        periods=reports.PERIODS,
        groups=reports.GROUPS,
        hm=lambda hours: reports.hours_minutes(hours * 3600),
    )


@page(Action.REPORTS)
async def report_export(request: web.Request, actor: Actor) -> web.StreamResponse:
    first, last, period, group, rows, spans = await _report(request, actor)
    _ = translator(request)
    fmt = query_choice(request, "format", ("csv", "xlsx")) or "csv"
    shown_last = last - dt.timedelta(days=1)
    name = f"jiseki-usage-{first.isoformat()}-{shown_last.isoformat()}-{period}-{group}.{fmt}"
    await audit.record(
        request.app[STATE].db,
        "report_exported",
        "ok",
        actor=actor.id,
        address=actor.address,
        period=period,
        group=group,
        first=first.isoformat(),
        last=shown_last.isoformat(),
        format=fmt,
    )
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        out = io.StringIO(newline="")
        reports.write_csv(rows, out, _)
        return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8", headers=headers)

    def build() -> bytes:  # seconds of CPU for a large report: in a worker thread, not on the event loop
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            reports.write_xlsx(rows, reports.by_hour(spans, first, last), path, _)
            return path.read_bytes()

    body = await asyncio.to_thread(build)
    return web.Response(
        body=body,
        headers=headers,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@page(Action.RECORDINGS)
async def recordings_page(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    first, last = query_date(request, "from"), query_date(request, "to")
    if first and last and last < first:
        first, last = last, first
    since, until = day_bounds(first, last)
    person = query_text(request, "person", 64)
    async with state.db() as s:
        rows = await newest_recordings(s, HistoryFilter(since, until, person, scope=actor.scope))
    filters = {"from": first.isoformat() if first else "", "to": last.isoformat() if last else "", "person": person}
    return render_console(
        request,
        "console/recordings.html",
        section="recordings",
        recordings=rows,
        filters=filters,
        shown_max=RECORDINGS_SHOWN,
        length=lambda ms: hours_minutes_seconds((ms or 0) / 1000),
        size=size_words,
    )
