"""The dashboard: what is happening now and the sessions of the last 30 days."""

from __future__ import annotations

import datetime as dt
import itertools

from aiohttp import web
from sqlalchemy import func, select

from jiseki.i18n import JST

from ...db.models import Host, Session, Terminal, User, utcnow
from ..guards import STATE
from .chart import daily_chart
from .common import Actor, page, render_console
from .permissions import Action

DAYS = 30


def _count(*where: object, model: type = Session) -> object:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()  # type: ignore[arg-type]


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
    midnight = bounds[-2]
    # One range count per day on the started_at index: portable SQL, and ~30 index range scans are
    # cheaper than grouping every session of the month by a computed date.
    per_day = [_count(Session.started_at >= lo, Session.started_at < hi) for lo, hi in itertools.pairwise(bounds)]
    async with state.db() as s:
        figures = (
            await s.execute(
                select(
                    _count(Host.online.is_(True), model=Host).label("online"),
                    _count(model=Host).label("pcs"),
                    _count(Session.state == "live").label("live"),
                    _count(Session.started_at >= midnight).label("today"),
                    _count(model=User).label("staff"),
                    _count(User.locked_until > now, model=User).label("locked"),
                    _count(Terminal.state == "active", model=Terminal).label("terminals"),
                )
            )
        ).one()
        counts = (await s.execute(select(*per_day))).one()
    chart = daily_chart({lo.date(): int(n) for lo, n in zip(bounds, counts, strict=False)}, today, DAYS)
    template = "console/_dashboard_figures.html" if request.query.get("fragment") else "console/dashboard.html"
    return render_console(request, template, figures=figures._asdict(), chart=chart, updated=now)
