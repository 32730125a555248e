"""The dashboard: what is happening now and the sessions of the last 30 days."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from jiseki.i18n import JST

from ...db.models import utcnow
from ...permissions import Action
from ...queries import dashboard as queries
from ..guards import STATE
from .chart import daily_chart
from .common import Actor, page, render_console

DAYS = 30


def day_bounds(today: dt.date, days: int = DAYS) -> list[dt.datetime]:
    """Japan-time midnights from `days - 1` days before `today` to the midnight after it (aware)."""
    first = today - dt.timedelta(days=days - 1)
    return [dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), JST) for i in range(days + 1)]


@page(Action.VIEW)
async def dashboard(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    now = utcnow()
    today = now.astimezone(JST).date()
    bounds = day_bounds(today)
    async with state.db() as s:
        figures = await queries.figures_now(s, now, bounds[-2], actor.scope)
        counts = await queries.sessions_started(s, bounds, actor.scope)
    chart = daily_chart({lo.date(): n for lo, n in zip(bounds, counts, strict=False)}, today, DAYS)
    template = "console/_dashboard_figures.html" if request.query.get("fragment") else "console/dashboard.html"
    return render_console(request, template, figures=figures, chart=chart, updated=now)
