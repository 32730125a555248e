"""The dashboard: what is happening now and the sessions of the last 30 days."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from sqlalchemy import func, select

from jiseki.i18n import JST

from ...db.models import Host, Session, Terminal, User, utcnow
from ...db.sqlfuncs import jst_date
from ..guards import STATE
from .chart import daily_chart
from .common import Actor, page, render_console
from .permissions import Action

DAYS = 30


def _count(*where: object, model: type = Session) -> object:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()  # type: ignore[arg-type]


@page(Action.VIEW)
async def dashboard(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    now = utcnow()
    today = now.astimezone(JST).date()
    midnight = dt.datetime.combine(today, dt.time(), JST)
    first = midnight - dt.timedelta(days=DAYS - 1)
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
        day = jst_date(Session.started_at)
        rows = (await s.execute(select(day, func.count()).where(Session.started_at >= first).group_by(day))).all()
    counts = {dt.date.fromisoformat(d): n for d, n in rows if d}
    chart = daily_chart(counts, today, DAYS)
    template = "console/_dashboard_figures.html" if request.query.get("fragment") else "console/dashboard.html"
    return render_console(request, template, figures=figures._asdict(), chart=chart, updated=now)
