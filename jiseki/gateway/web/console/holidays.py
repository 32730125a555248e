"""The holiday calendar: the next twelve months of national holidays (from `jpholiday`) and the
organisation's closed days, with a form to add a closed day or a range of them (年末年始 12/29–1/3)
and a button to remove one. Every console user reads it; only full administrators change it."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from jiseki.i18n import N_

from ... import admin
from ...admin import AdminError
from ...holidays import HOLIDAY, Calendar, closed_days, days_off, today_jst
from ...permissions import Action
from ..guards import STATE
from ..policy_labels import day_text
from ..render import translator
from .common import Actor, FormError, done_redirect, error_text, form_of, page, render_console, text

MONTHS_SHOWN = 12
PATH = "/admin/holidays"


async def _render(request: web.Request, status: int = 200, error: str | None = None, **form: str) -> web.Response:
    today = today_jst()
    last = _months_later(today, MONTHS_SHOWN)
    async with request.app[STATE].db() as s:
        closed = await closed_days(s, today, last)
    calendar = Calendar(tuple((dt.date.fromisoformat(day), name) for day, name in closed))
    _ = translator(request)
    return render_console(
        request,
        "console/holidays.html",
        status=status,
        section="policies",
        days=days_off(calendar, today, last),
        day_text=lambda day: day_text(_, day),
        holiday_kind=HOLIDAY,
        first_shown=today,
        last_shown=last,
        error=error,
        form=form,
    )


def _months_later(day: dt.date, months: int) -> dt.date:
    """The day before the same date `months` later (the end of a twelve-month view, inclusive)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d) - dt.timedelta(days=1)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@page(Action.VIEW)
async def holidays_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render(request)


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise AdminError(N_("Give the date as YYYY-MM-DD.")) from None


@page(Action.POLICY_MANAGE)
async def add_closed_days(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    fields = {k: text(form, k, 200) for k in ("first", "last", "name")}
    try:
        first = _date(fields["first"])
        last = _date(fields["last"]) if fields["last"] else first
        async with request.app[STATE].db.begin() as s:
            await admin.add_closed_days(s, first, last, fields["name"], actor.id, address=actor.address)
    except AdminError as exc:
        return await _render(request, status=400, error=error_text(request, exc), **fields)
    raise done_redirect(PATH, "updated")


@page(Action.POLICY_MANAGE)
async def remove_closed_day(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:
        day = _date(text(form, "day", 10, required=True))
    except AdminError:
        raise FormError("day") from None
    try:
        async with request.app[STATE].db.begin() as s:
            await admin.remove_closed_day(s, day, actor.id, address=actor.address)
    except AdminError as exc:  # not (or no longer) a closed day
        raise web.HTTPNotFound(text=error_text(request, exc)) from None
    raise done_redirect(PATH, "updated")
