"""Staff accounts: the searchable list, one account's page, creating and changing accounts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from ... import admin
from ...admin import AdminError
from ...auth.accounts import ROLES
from ...db.models import User, utcnow
from ...end_reasons import EndReason
from ...queries import staff as queries
from ..guards import STATE
from .audit_log import view_of
from .common import (
    PAGE_SIZE,
    Actor,
    Forbidden,
    done_redirect,
    error_text,
    form_of,
    page,
    page_number,
    query_choice,
    query_text,
    render_console,
    text,
)
from .labels import LOGIN_REASONS
from .permissions import Action, grantable_roles, may_act_on_account


def account_url(login_id: str) -> str:
    return "/admin/account/" + quote(login_id, safe="")


@page(Action.VIEW)
async def staff_list(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    q = query_text(request, "q")
    role = query_choice(request, "role", ROLES)
    status = query_choice(request, "state", queries.STATES)
    sort = query_choice(request, "sort", tuple(queries.SORTS)) or "id"
    now = utcnow()
    async with state.db() as s:
        found = await queries.staff_page(s, q, role, status, now, sort, page_number(request), PAGE_SIZE)
    return render_console(
        request,
        "console/staff_list.html",
        rows=found.rows,
        paging=found.paging,
        q=q,
        role_filter=role,
        state_filter=status,
        sort=sort,
        now=now,
        account_url=account_url,
    )


@page(Action.STAFF_CREATE)
async def new_staff(request: web.Request, actor: Actor) -> web.Response:
    async with request.app[STATE].db() as s:
        departments = await queries.department_names(s)
    return render_console(
        request, "console/staff_new.html", departments=departments, values={"role": "staff"}, error=None
    )


@page(Action.STAFF_CREATE)
async def create_staff(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    form = await form_of(request)
    values = {
        "login_id": text(form, "login_id", 64, required=True),
        "display_name": text(form, "display_name", 255, required=True),
        "department": text(form, "department", 255),
        "role": text(form, "role", 16, required=True),
    }
    if values["role"] not in grantable_roles(actor.role):
        raise Forbidden("grant_role")
    try:
        async with state.db.begin() as s:
            temporary = await admin.create_user(
                s,
                state.password_policy,
                values["login_id"],
                values["display_name"],
                values["department"],
                values["role"],
                None,
                actor.id,
                address=actor.address,
            )
    except AdminError as exc:
        async with state.db() as s:
            departments = await queries.department_names(s)
        return render_console(
            request,
            "console/staff_new.html",
            status=400,
            departments=departments,
            values=values,
            error=error_text(request, exc),
        )
    # Shown in this response only (no redirect, no-store): the temporary password is not kept.
    return render_console(
        request,
        "console/temporary_password.html",
        login_id=values["login_id"],
        display_name=values["display_name"],
        password=temporary,
        created=True,
        account_url=account_url(values["login_id"]),
    )


def _found(row: User | None) -> User:
    if row is None:
        raise web.HTTPNotFound(text="no such account")
    return row


async def _account(request: web.Request, login_id: str) -> User:
    async with request.app[STATE].db() as s:
        return _found(await queries.account(s, login_id))


@page(Action.VIEW)
async def account_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render_account(request, actor, request.match_info["login_id"])


async def _render_account(
    request: web.Request, actor: Actor, login_id: str, *, status: int = 200, error: str | None = None
) -> web.Response:
    async with request.app[STATE].db() as s:
        details = await queries.account_details(s, login_id, with_events=actor.can(Action.VIEW_AUDIT))
    if details is None:
        raise web.HTTPNotFound(text="no such account")
    row = details.user

    def may(action: str) -> bool:
        return may_act_on_account(actor.role, Action(action), row.role)

    return render_console(
        request,
        "console/account.html",
        status=status,
        account=row,
        department=details.department,
        departments=details.departments,
        assigned=details.assigned,
        events=[view_of(e) for e in details.events],
        failed_logins=details.failed_logins,
        login_reasons=LOGIN_REASONS,
        may=may,
        is_self=row.id == actor.id,
        locked=row.locked_until is not None and row.locked_until > utcnow(),
        error=error,
        account_url=account_url(row.id),
    )


async def _target(request: web.Request, actor: Actor, action: Action) -> str:
    """The account in the URL, if the actor may do `action` to it."""
    login_id = request.match_info["login_id"]
    row = await _account(request, login_id)
    if not may_act_on_account(actor.role, action, row.role):
        raise Forbidden(action)
    return login_id


@page(Action.STAFF_EDIT)
async def update_account(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    login_id = await _target(request, actor, Action.STAFF_EDIT)
    form = await form_of(request)
    current = await _account(request, login_id)
    role = text(form, "role", 16) or current.role
    if role != current.role and (not actor.can(Action.STAFF_ROLE) or role not in grantable_roles(actor.role)):
        raise Forbidden(Action.STAFF_ROLE)
    try:
        async with state.db.begin() as s:
            changed = await admin.update_user(
                s,
                login_id,
                display_name=text(form, "display_name", 255, required=True),
                department=text(form, "department", 255),
                role=role,
                actor=actor.id,
                address=actor.address,
            )
    except AdminError as exc:
        return await _render_account(request, actor, login_id, status=400, error=error_text(request, exc))
    raise done_redirect(account_url(login_id), "updated" if changed else "unchanged")


def _simple(action: Action, done: str, operation: Any, end_sessions: str | None = None) -> Any:
    """A one-button change of an account; `end_sessions` closes its live sessions with that reason
    (the operation ends the web sessions; an open viewer would otherwise go on)."""

    @page(action)
    async def handler(request: web.Request, actor: Actor) -> web.Response:
        login_id = await _target(request, actor, action)
        if login_id == actor.id and done in ("disabled",):
            raise Forbidden("disable_self")
        state = request.app[STATE]
        try:
            async with state.db.begin() as s:
                await operation(s, login_id, actor)
        except AdminError as exc:
            return await _render_account(request, actor, login_id, status=400, error=error_text(request, exc))
        if end_sessions is not None:
            await state.broker.close_user_sessions(login_id, end_sessions)
        raise done_redirect(account_url(login_id), done)

    return handler


unlock = _simple(Action.STAFF_CREDENTIALS, "unlocked", lambda s, u, a: admin.unlock_user(s, u, a.id, address=a.address))
reset_totp = _simple(
    Action.STAFF_CREDENTIALS,
    "totp_reset",
    lambda s, u, a: admin.reset_totp(s, u, a.id, address=a.address),
    EndReason.LOGIN_REQUIRED,
)
disable = _simple(
    Action.STAFF_DISABLE,
    "disabled",
    lambda s, u, a: admin.set_disabled(s, u, True, a.id, address=a.address),
    EndReason.ACCOUNT_DISABLED,
)
enable = _simple(
    Action.STAFF_DISABLE, "enabled", lambda s, u, a: admin.set_disabled(s, u, False, a.id, address=a.address)
)


@page(Action.STAFF_CREDENTIALS)
async def reset_password(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    login_id = await _target(request, actor, Action.STAFF_CREDENTIALS)
    async with state.db.begin() as s:
        temporary = await admin.reset_password(s, login_id, actor.id, address=actor.address)
        row = _found(await queries.account(s, login_id))
    await state.broker.close_user_sessions(login_id, EndReason.LOGIN_REQUIRED)
    return render_console(
        request,
        "console/temporary_password.html",
        login_id=login_id,
        display_name=row.display_name,
        password=temporary,
        created=False,
        account_url=account_url(login_id),
    )


@page(Action.ASSIGN)
async def assign_pc(request: web.Request, actor: Actor) -> web.Response:
    login_id = request.match_info["login_id"]
    form = await form_of(request)
    host_id = text(form, "host_id", 64, required=True)
    try:
        async with request.app[STATE].db.begin() as s:
            _found(await queries.account(s, login_id))
            await admin.assign(s, login_id, host_id, actor.id, address=actor.address)
    except AdminError as exc:
        return await _render_account(request, actor, login_id, status=400, error=error_text(request, exc))
    raise done_redirect(account_url(login_id), "assigned")


@page(Action.ASSIGN)
async def unassign_pc(request: web.Request, actor: Actor) -> web.Response:
    login_id = request.match_info["login_id"]
    form = await form_of(request)
    host_id = text(form, "host_id", 64, required=True)
    async with request.app[STATE].db.begin() as s:
        _found(await queries.account(s, login_id))
        await admin.unassign(s, login_id, host_id, actor.id, address=actor.address)
    raise done_redirect(account_url(login_id), "unassigned")
