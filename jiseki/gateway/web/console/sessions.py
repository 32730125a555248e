"""Live sessions (who, from which terminal, to which PC, since when, bytes), the history, and
ending a session with a reason the staff member sees."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ... import admin
from ...admin import AdminError
from ...db.models import utcnow
from ...end_reasons import EndReason
from ...permissions import Action
from ...queries import sessions as queries
from ...textclean import without_controls
from ..guards import STATE
from ..pages import VIEWER_STRINGS
from ..render import translator
from .common import (
    PAGE_SIZE,
    Actor,
    FormError,
    OutOfScope,
    done_redirect,
    error_text,
    form_of,
    page,
    page_number,
    query_text,
    render_console,
)
from .pcs import pc_url
from .staff import account_url
from .terminals import terminal_url


def live_bytes(request: web.Request) -> dict[str, int]:
    """Bytes relayed so far by the sessions this node holds (the database has them at the end)."""
    broker = request.app[STATE].broker
    return {sid: p.stats.to_viewer + p.stats.to_agent for sid, p in list(broker.live.items()) if p.stats is not None}


def reason_text(request: web.Request, reason: str | None) -> str:
    _ = translator(request)
    if not reason:
        return ""
    return _(VIEWER_STRINGS.get(f"ended.{reason}", VIEWER_STRINGS["ended.unknown"]))


@page(Action.VIEW)
async def session_list(request: web.Request, actor: Actor) -> web.Response:
    q = query_text(request, "q")
    now = utcnow()
    async with request.app[STATE].db() as s:
        found = await queries.session_lists(s, q, page_number(request), PAGE_SIZE, now, actor.scope)
    template = "console/_live_sessions.html" if request.query.get("fragment") else "console/sessions.html"
    return render_console(
        request,
        template,
        live=found.live,
        live_total=found.live_total,
        history=found.history.rows,
        paging=found.history.paging,
        q=q,
        bytes_now=live_bytes(request),
        now=now,
        reason_text=lambda r: reason_text(request, r),
        account_url=account_url,
        pc_url=pc_url,
        terminal_url=terminal_url,
    )


NO_SESSION = "no such session"


async def _session_row(request: web.Request, actor: Actor) -> Any:
    """The session in the URL, if it exists and is in the actor's scope (outside: the same 404,
    audited for a change)."""
    session_id = request.match_info["session_id"]
    async with request.app[STATE].db() as s:
        row = await queries.session_row(s, session_id, actor.scope)
        if row is None and actor.delegated and await queries.session_row(s, session_id) is not None:
            raise OutOfScope(Action.SESSION_END, NO_SESSION)
    if row is None:
        raise web.HTTPNotFound(text=NO_SESSION)
    return row


@page(Action.SESSION_END)
async def end_form(request: web.Request, actor: Actor) -> web.Response:
    row = await _session_row(request, actor)
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
    row = await _session_row(request, actor)
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
