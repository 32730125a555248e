"""Live sessions (who, from which terminal, to which PC, since when, bytes), the history, and
ending a session with a reason the staff member sees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from ... import admin
from ...admin import AdminError
from ...db.models import Department, Host, Session, Terminal, User, utcnow
from ...end_reasons import EndReason
from ...textclean import without_controls
from ..guards import STATE
from ..pages import VIEWER_STRINGS
from ..render import translator
from .common import Actor, FormError, done_redirect, error_text, form_of, page, paging, query_text, render_console
from .pcs import pc_url
from .permissions import Action
from .staff import account_url
from .terminals import terminal_url

REQUEST_SHOWN_MINUTES = 2
LIVE_SHOWN = 200  # live sessions listed at once; the search narrows them (thousands may be live at 9:00)


def _query() -> Select[Any]:
    return (
        select(
            Session.id,
            Session.state,
            Session.user_id,
            User.display_name,
            Department.name.label("department"),
            Session.terminal_id,
            Terminal.name.label("terminal_name"),
            Session.host_id,
            Host.name.label("host_name"),
            Session.created_at,
            Session.started_at,
            Session.ended_at,
            Session.end_reason,
            Session.end_message,
            Session.ended_by,
            Session.viewer_address,
            Session.node_id,
            (Session.bytes_to_viewer + Session.bytes_to_agent).label("bytes"),
        )
        .outerjoin(User, User.id == Session.user_id)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(Terminal, Terminal.id == Session.terminal_id)
        .outerjoin(Host, Host.id == Session.host_id)
    )


def live_bytes(request: web.Request) -> dict[str, int]:
    """Bytes relayed so far by the sessions this node holds (the database has them at the end)."""
    broker = request.app[STATE].broker
    return {sid: p.stats.to_viewer + p.stats.to_agent for sid, p in list(broker.live.items()) if p.stats is not None}


def reason_text(request: web.Request, reason: str | None) -> str:
    _ = translator(request)
    if not reason:
        return ""
    return _(VIEWER_STRINGS.get(f"ended.{reason}", VIEWER_STRINGS["ended.unknown"]))


def _open() -> ColumnElement[bool]:
    """Live sessions, and requests of the last minutes (an unused ticket leaves a 'requested' row)."""
    recent = utcnow() - dt.timedelta(minutes=REQUEST_SHOWN_MINUTES)
    # The IN first, so the state index narrows the search before the OR is looked at.
    return and_(
        Session.state.in_(("live", "requested")),
        or_(Session.state == "live", Session.created_at > recent),
    )


def _history_filter(q: str) -> list[ColumnElement[bool]]:
    if not q:
        return []
    return [
        or_(
            Session.user_id.icontains(q, autoescape=True),
            Session.host_id.icontains(q, autoescape=True),
            Session.terminal_id.icontains(q, autoescape=True),
        )
    ]


@page(Action.VIEW)
async def session_list(request: web.Request, actor: Actor) -> web.Response:
    q = query_text(request, "q")
    # Ended sessions are those with an end time: filter and order on the one ended_at index.
    conds = [Session.ended_at.is_not(None), *_history_filter(q)]
    async with request.app[STATE].db() as s:
        live_conds = [_open(), *_history_filter(q)]
        live_total = int((await s.execute(select(func.count()).select_from(Session).where(*live_conds))).scalar_one())
        live = (
            await s.execute(_query().where(*live_conds).order_by(Session.created_at.desc()).limit(LIVE_SHOWN))
        ).all()
        total = int((await s.execute(select(func.count()).select_from(Session).where(*conds))).scalar_one())
        pg = paging(request, total)
        # The page's IDs first (on the ended_at index), then the joins for those rows only.
        page_ids = (
            select(Session.id.label("id"))
            .where(*conds)
            .order_by(Session.ended_at.desc(), Session.id)
            .limit(pg.size)
            .offset(pg.offset)
            .subquery()
        )
        history = (
            await s.execute(
                _query().join(page_ids, page_ids.c.id == Session.id).order_by(Session.ended_at.desc(), Session.id)
            )
        ).all()
    template = "console/_live_sessions.html" if request.query.get("fragment") else "console/sessions.html"
    return render_console(
        request,
        template,
        live=live,
        live_total=live_total,
        history=history,
        paging=pg,
        q=q,
        bytes_now=live_bytes(request),
        now=utcnow(),
        reason_text=lambda r: reason_text(request, r),
        account_url=account_url,
        pc_url=pc_url,
        terminal_url=terminal_url,
    )


async def _session_row(request: web.Request) -> Any:
    session_id = request.match_info["session_id"]
    if not 0 < len(session_id) <= 64:
        raise web.HTTPNotFound(text="no such session")
    async with request.app[STATE].db() as s:
        row = (await s.execute(_query().where(Session.id == session_id))).one_or_none()
    if row is None:
        raise web.HTTPNotFound(text="no such session")
    return row


@page(Action.SESSION_END)
async def end_form(request: web.Request, actor: Actor) -> web.Response:
    row = await _session_row(request)
    if row.state == "ended":
        raise done_redirect("/admin/sessions", "already_ended")
    return _render_end(request, row, error=None, values={"hold": "10"})


def _render_end(
    request: web.Request, row: Any, *, error: str | None, values: dict[str, str], status: int = 200
) -> web.Response:
    return render_console(
        request,
        "console/session_end.html",
        status=status,
        session=row,
        error=error,
        values=values,
        holds=admin.HOLD_MINUTES,
        bytes_now=live_bytes(request),
        now=utcnow(),
        account_url=account_url,
        pc_url=pc_url,
        terminal_url=terminal_url,
    )


@page(Action.SESSION_END)
async def end_session(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    row = await _session_row(request)
    form = await form_of(request)
    values = {
        "message": without_controls(str(form.get("message", "")), keep_breaks=True)[:2000],
        "hold": str(form.get("hold", "")),
    }
    try:
        hold = int(values["hold"])
    except ValueError:
        raise FormError("hold") from None
    try:
        async with state.db.begin() as s:
            ended = await admin.record_session_end(s, row.id, values["message"], hold, actor.id, address=actor.address)
    except AdminError as exc:
        return _render_end(request, row, error=error_text(request, exc), values=values, status=400)
    if ended is None:
        raise done_redirect("/admin/sessions", "already_ended")
    await state.broker.close_anywhere(row.id, row.node_id, EndReason.ADMIN)
    raise done_redirect("/admin/sessions", "ended")
