"""Office PCs: the list with their state, one PC's page, assignments, enrollment tokens, revocation."""

from __future__ import annotations

import base64
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from aiohttp import web

from jiseki import __version__
from jiseki.i18n import N_

from ... import admin
from ...admin import AdminError
from ...agent_versions import agent_age
from ...assignments_csv import AssignmentRow
from ...auth.accounts import valid_login_id
from ...auth.users_csv import CsvFileError, RowError
from ...db.models import Host, utcnow
from ...enrollment_csv import parse_pc_list, tokens_csv
from ...permissions import Action
from ...queries import pcs as queries
from ...wake import wake_host
from ..guards import STATE
from ..render import translator
from .audit_log import view_of
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
    query_choice,
    query_text,
    refused_out_of_scope,
    render_console,
    text,
)
from .staff import account_url
from .uploads import uploaded_csv

MAX_IDS = 1000
_SEPARATORS = re.compile(r"[\s,;、，]+")


def pc_url(host_id: str) -> str:
    return "/admin/pc/" + quote(host_id, safe="")


@page(Action.VIEW)
async def pc_list(request: web.Request, actor: Actor) -> web.Response:
    q = query_text(request, "q")
    status = query_choice(request, "state", queries.STATES)
    async with request.app[STATE].db() as s:
        found = await queries.pc_page(s, q, status, page_number(request), PAGE_SIZE, actor.scope)
    return render_console(
        request,
        "console/pc_list.html",
        rows=found.rows,
        paging=found.paging,
        q=q,
        state_filter=status,
        pc_url=pc_url,
        agent_age=agent_age,
        gateway_version=__version__,
    )


NO_PC = "no such office PC"


async def _host(request: web.Request, actor: Actor, action: Action) -> Host:
    """The PC in the URL, if it exists and is in the actor's scope (outside: the same 404, audited)."""
    async with request.app[STATE].db() as s:
        row = await queries.host(s, request.match_info["host_id"])
        if row is None:
            raise web.HTTPNotFound(text=NO_PC)
        if actor.delegated and not await actor.scope.has_host(s, row.id):
            raise OutOfScope(action, NO_PC)
    return row


@page(Action.VIEW)
async def pc_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render_pc(request, actor, await _host(request, actor, Action.VIEW))


async def _render_pc(
    request: web.Request,
    actor: Actor,
    host: Host,
    *,
    status: int = 200,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    login_ids: str = "",
) -> web.Response:
    async with request.app[STATE].db() as s:
        details = await queries.pc_details(s, host, with_events=actor.can(Action.VIEW_AUDIT), scope=actor.scope)
    return render_console(
        request,
        "console/pc.html",
        status=status,
        host=host,
        certificate=details.certificate,
        staff=details.staff,
        sessions=details.sessions,
        in_use=details.in_use,
        events=[view_of(e) for e in details.events],
        error=error,
        result=result,
        login_ids=login_ids,
        account_url=account_url,
        pc_url=pc_url(host.id),
        agent_age=agent_age,
        gateway_version=__version__,
    )


def split_ids(value: str) -> list[str]:
    """Login IDs typed or pasted one per line, or separated by commas, spaces or 、 (deduplicated)."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(unicodedata.normalize("NFKC", value)):
        if part:
            seen.setdefault(part, None)
    return list(seen)


@page(Action.ASSIGN)
async def assign_many(request: web.Request, actor: Actor) -> web.Response:
    """Assign many staff to this PC at once; each ID's outcome is listed (staff outside the actor's
    scope are answered as unknown IDs)."""
    host = await _host(request, actor, Action.ASSIGN)
    form = await form_of(request)
    raw = text(form, "login_ids", 64 * 1024, required=True)
    ids = split_ids(raw)
    if len(ids) > MAX_IDS:
        raise FormError("login_ids")
    rows = [AssignmentRow(i + 1, login_id, host.id, "assign") for i, login_id in enumerate(ids)]
    invalid = [
        RowError(
            r.line,
            N_("The login ID “{value}” is not valid: use 1-64 letters, digits or . _ - @."),
            {"value": r.login_id[:80]},
        )
        for r in rows
        if not valid_login_id(r.login_id)
    ]
    rows = [r for r in rows if valid_login_id(r.login_id)]
    if actor.delegated:
        async with request.app[STATE].db() as s:
            outside = await queries.outside_scope(s, [r.login_id for r in rows], actor.scope)
        if outside:
            await refused_out_of_scope(request, actor, Action.ASSIGN)
            invalid += [
                RowError(r.line, N_("There is no staff account “{value}”."), {"value": r.login_id})
                for r in rows
                if r.login_id in outside
            ]
            rows = [r for r in rows if r.login_id not in outside]
    async with request.app[STATE].db.begin() as s:
        result = await admin.import_assignments(s, rows, invalid, actor.id, address=actor.address, scope=actor.scope)
    _ = translator(request)
    summary = {
        "assigned": [r.login_id for r in result.valid],
        "unchanged": [r.login_id for r in result.unchanged],
        "errors": [_(e.msgid, **e.values) for e in result.errors],
    }
    return await _render_pc(request, actor, host, result=summary, login_ids="" if not result.errors else raw)


@page(Action.ASSIGN)
async def unassign(request: web.Request, actor: Actor) -> web.Response:
    host = await _host(request, actor, Action.ASSIGN)
    form = await form_of(request)
    login_id = text(form, "login_id", 64, required=True)
    async with request.app[STATE].db.begin() as s:
        if actor.delegated and not await actor.scope.has_user(s, login_id):
            raise OutOfScope(Action.ASSIGN, NO_PC)
        await admin.unassign(s, login_id, host.id, actor.id, address=actor.address)
    raise done_redirect(pc_url(host.id), "unassigned")


@page(Action.PC_MANAGE)
async def revoke(request: web.Request, actor: Actor) -> web.Response:
    host = await _host(request, actor, Action.PC_MANAGE)
    form = await form_of(request)
    state = request.app[STATE]
    try:
        async with state.db.begin() as s:
            await admin.revoke_host(s, host.id, text(form, "reason", admin.MAX_REASON), actor.id, address=actor.address)
    except AdminError as exc:
        return await _render_pc(request, actor, host, status=400, error=error_text(request, exc))
    state.watcher.poke()
    raise done_redirect(pc_url(host.id), "revoked")


@page(Action.PC_WAKE)
async def wake(request: web.Request, actor: Actor) -> web.Response:
    """電源オン: the PC's magic packet, direct or through a relay agent (scope applies: outside it, 404)."""
    host = await _host(request, actor, Action.PC_WAKE)
    await form_of(request)  # the CSRF check
    result = await wake_host(request.app[STATE], host.id, actor.id, actor.address)
    if not result.ok:
        return await _render_pc(request, actor, host, status=409, error=translator(request)(result.message))
    raise done_redirect(pc_url(host.id), "woken")


# ---- enrollment tokens --------------------------------------------------------------------------


async def _render_tokens(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
    token: str | None = None,
    bulk_errors: list[str] | None = None,
) -> web.Response:
    async with request.app[STATE].db() as s:
        tokens = await queries.enrollment_tokens(s)
    return render_console(
        request,
        "console/enrollment.html",
        status=status,
        tokens=tokens,
        now=utcnow(),
        error=error,
        values=values or {"hours": "24"},
        token=token,
        bulk_errors=bulk_errors or [],
        pc_url=pc_url,
        hour_range=admin.TOKEN_HOURS,
        request_host=request.host,
    )


@page(Action.VIEW_ORGANISATION)
async def tokens(request: web.Request, actor: Actor) -> web.Response:
    return await _render_tokens(request)


@page(Action.ENROLLMENT)
async def create_token(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    form = await form_of(request)
    values = {
        "host_id": text(form, "host_id", 64, required=True),
        "name": text(form, "name", 255, required=True),
        "hours": text(form, "hours", 8, required=True),
    }
    try:
        hours = float(values["hours"])
    except ValueError:
        raise FormError("hours") from None
    try:
        async with state.db.begin() as s:
            token = await admin.create_enrollment_token(
                s, state.ca, values["host_id"], values["name"], hours, actor.id, address=actor.address
            )
    except AdminError as exc:
        return await _render_tokens(request, status=400, error=error_text(request, exc), values=values)
    # The token is in this response only: the database keeps its SHA-256.
    return await _render_tokens(request, values={"hours": "24"}, token=token)


@page(Action.ENROLLMENT)
async def create_tokens(request: web.Request, actor: Actor) -> web.Response:
    """Tokens for a whole PC list (an asset list's CSV): all or none; the CSV of tokens is in this
    response only, as a download (the database keeps each token's SHA-256)."""
    state = request.app[STATE]
    _ = translator(request)
    form = await form_of(request)
    hours_text = text(form, "hours", 8, required=True)
    try:
        hours = float(hours_text)
        filename, content = uploaded_csv(form)
    except ValueError:
        raise FormError("hours") from None
    except CsvFileError as exc:
        return await _render_tokens(request, status=400, error=_(exc.msgid, **exc.values))
    rows, errors = parse_pc_list(content)
    if errors or not rows:
        problems = [f"{filename} {e.line}: {_(e.msgid, **e.values)}" for e in errors[:50]]
        return await _render_tokens(
            request,
            status=400,
            error=_("No token was made: correct the file and upload it again.") if errors else _("The file is empty."),
            bulk_errors=problems,
        )
    try:
        async with state.db.begin() as s:
            issued = await admin.create_enrollment_tokens(
                s, state.ca, [(r.host_id, r.name) for r in rows], hours, actor.id, address=actor.address
            )
    except AdminError as exc:  # the validity, or a PC ID the file check let through: nothing was made
        return await _render_tokens(request, status=400, error=error_text(request, exc))
    data = tokens_csv(issued).encode()
    return render_console(
        request,
        "console/enrollment_bulk_done.html",
        count=len(issued),
        hours=hours,
        download="data:text/csv;charset=utf-8;base64," + base64.b64encode(data).decode(),
        request_host=request.host,
    )


@page(Action.ENROLLMENT)
async def cancel_token(request: web.Request, actor: Actor) -> web.Response:
    try:
        async with request.app[STATE].db.begin() as s:
            await admin.cancel_enrollment_token(s, request.match_info["token_id"], actor.id, address=actor.address)
    except AdminError as exc:
        return await _render_tokens(request, status=400, error=error_text(request, exc))
    raise done_redirect("/admin/enrollment", "token_cancelled")
