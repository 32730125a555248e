"""Usage reports (利用状況) with a chart and CSV/XLSX export, and the list of recordings."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from jiseki.i18n import JST

from ... import audit, reports
from ...db.models import utcnow
from ...queries.recordings import newest_recordings
from ..guards import STATE
from ..render import translator
from .common import Actor, page, query_choice, render_console
from .permissions import Action

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
    today = dt.datetime.now(JST).date()
    try:
        last = (
            dt.date.fromisoformat(request.query.get("to", "")) if request.query.get("to") else today + dt.timedelta(1)
        )
        first = dt.date.fromisoformat(request.query["from"]) if request.query.get("from") else last - dt.timedelta(30)
    except ValueError:
        first, last = today - dt.timedelta(29), today + dt.timedelta(1)
    if not first < last or (last - first).days > MAX_DAYS:
        first, last = last - dt.timedelta(30), last
    return first, last


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


async def _report(request: web.Request) -> tuple[dt.date, dt.date, str, str, list[reports.Row], list[reports.Span]]:
    state = request.app[STATE]
    first, last = _dates(request)
    period = query_choice(request, "by", reports.PERIODS) or "day"
    group = query_choice(request, "group", reports.GROUPS) or "all"
    async with state.db() as s:
        spans = await reports.load_spans(s, first, last, utcnow())
    return first, last, period, group, reports.usage(spans, first, last, period, group), spans


@page(Action.REPORTS)
async def report_page(request: web.Request, actor: Actor) -> web.Response:
    first, last, period, group, rows, spans = await _report(request)
    bars, top = _chart(rows)
    return render_console(
        request,
        "console/reports.html",
        section="reports",
        rows=rows,
        first=first,
        last=last,
        period=period,
        group=group,
        bars=bars,
        top=top,
        hours=reports.by_hour(spans, first, last),
        chart_w=CHART_W,
        chart_h=CHART_H,
        chart_left=CHART_LEFT,
        baseline=CHART_H - CHART_BOTTOM,
        periods=reports.PERIODS,
        groups=reports.GROUPS,
    )


@page(Action.REPORTS)
async def report_export(request: web.Request, actor: Actor) -> web.StreamResponse:
    first, last, period, group, rows, spans = await _report(request)
    _ = translator(request)
    fmt = query_choice(request, "format", ("csv", "xlsx")) or "csv"
    name = f"jiseki-usage-{first.isoformat()}-{last.isoformat()}-{period}-{group}.{fmt}"
    await audit.record(
        request.app[STATE].db,
        "report_exported",
        "ok",
        actor=actor.id,
        address=actor.address,
        period=period,
        group=group,
        first=first.isoformat(),
        last=last.isoformat(),
        format=fmt,
    )
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        out = io.StringIO(newline="")
        reports.write_csv(rows, out, _)
        return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8", headers=headers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        reports.write_xlsx(rows, reports.by_hour(spans, first, last), path, _)
        body = path.read_bytes()
    return web.Response(
        body=body,
        headers=headers,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@page(Action.RECORDINGS)
async def recordings_page(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    async with state.db() as s:
        rows = await newest_recordings(s)
    return render_console(request, "console/recordings.html", section="recordings", recordings=rows)
