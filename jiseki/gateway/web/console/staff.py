"""Staff accounts: the searchable list, one account's page, creating and changing accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from jiseki.i18n import N_

from ... import admin
from ...admin import AdminError
from ...admin.keys import remove_key as remove_account_key
from ...admin.scopes import MAX_TARGETS as MAX_SCOPE_TARGETS
from ...auth.accounts import ROLES
from ...auth.webauthn_keys import keys_of
from ...db.models import User, utcnow
from ...end_reasons import EndReason
from ...permissions import Action, grantable_roles, has_console, may_act_on_account
from ...queries import staff as queries
from ...scope import WHOLE, Scope, scope_of
from ..guards import STATE
from .audit_log import view_of
from .common import (
    PAGE_SIZE,
    Actor,
    Forbidden,
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
from .labels import LOGIN_REASONS

NO_ACCOUNT = "no such account"


def account_url(login_id: str) -> str:
    return "/admin/account/" + quote(login_id, safe="")


@page(Action.VIEW)
async def staff_list(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    q = query_text(request, "q")
    role = query_choice(request, "role", ROLES)
    status = query_choice(request, "state", queries.STATES)
    sort = query_choice(request, "sort", tuple(queries.SORTS)) or "reading"
    now = utcnow()
    async with state.db() as s:
        departments = await queries.departments(s, actor.scope)
        department = _department_filter(request, {d.id for d in departments})
        found = await queries.staff_page(
            s,
            queries.StaffFilter(q, role, status, department, actor.scope),
            now,
            sort,
            page_number(request),
            PAGE_SIZE,
        )
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
        departments=departments,
        department_filter=department,
    )


def _department_filter(request: web.Request, offered: set[int]) -> int | None:
    """`?department=<id>`: one of the departments offered (the reader's scope's); any other value
    matches nothing, so that a crafted ID shows no one rather than another department's staff."""
    raw = request.query.get("department", "")
    if not raw:
        return None
    try:
        wanted = int(raw)
    except ValueError:
        return -1
    return wanted if wanted in offered else -1


@page(Action.STAFF_CREATE)
async def new_staff(request: web.Request, actor: Actor) -> web.Response:
    async with request.app[STATE].db() as s:
        departments = await queries.department_names(s, actor.scope)
    return render_console(
        request,
        "console/staff_new.html",
        departments=departments,
        values={"role": "staff"},
        error=None,
    )


async def _check_department(request: web.Request, actor: Actor, name: str, *, moving_from: User | None = None) -> None:
    """A delegated actor creates staff only in, and moves them only between, departments of their
    scope (the form offers those only: another name is a crafted request, refused and audited).
    Staff without a department (in scope through a PC group) may be given one of the scope's."""
    if not actor.delegated:
        return
    async with request.app[STATE].db() as s:
        wanted = await queries.department_of_name(s, name)
    if moving_from is not None:
        current = moving_from.department_id
        if wanted == current:
            return
        if current is not None and not actor.scope.has_department(current):
            raise Forbidden("department_scope")
    if wanted is None or not actor.scope.has_department(wanted):
        raise Forbidden("department_scope")


@page(Action.STAFF_CREATE)
async def create_staff(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    form = await form_of(request)
    values = {
        "login_id": text(form, "login_id", 64, required=True),
        "display_name": text(form, "display_name", 255, required=True),
        "reading": text(form, "reading", 1000),  # normalised and limited by admin.create_user
        "department": text(form, "department", 255),
        "role": text(form, "role", 16, required=True),
    }
    if values["role"] not in grantable_roles(actor.role, actor.delegated):
        raise Forbidden("grant_role")
    await _check_department(request, actor, values["department"])
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
                reading=values["reading"],
            )
    except AdminError as exc:
        async with state.db() as s:
            departments = await queries.department_names(s, actor.scope)
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
        raise web.HTTPNotFound(text=NO_ACCOUNT)
    return row


async def _account(request: web.Request, actor: Actor, login_id: str, action: Action) -> User:
    """The account, if it exists and is in the actor's scope (outside: the same 404, audited)."""
    async with request.app[STATE].db() as s:
        row = _found(await queries.account(s, login_id))
        if actor.delegated and not await actor.scope.has_user(s, login_id):
            raise OutOfScope(action, NO_ACCOUNT)
    return row


@page(Action.VIEW)
async def account_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render_account(request, actor, request.match_info["login_id"])


async def _render_account(
    request: web.Request, actor: Actor, login_id: str, *, status: int = 200, error: str | None = None
) -> web.Response:
    async with request.app[STATE].db() as s:
        details = await queries.account_details(
            s, login_id, with_events=actor.can(Action.VIEW_AUDIT), scope=actor.scope
        )
        if details is None:
            raise web.HTTPNotFound(text=NO_ACCOUNT)
        own_scope = await scope_of(s, login_id)
        scope_departments, scope_groups = await queries.scope_names(s, own_scope)
        keys = await keys_of(s, login_id)
        scope_form = None
        if actor.can(Action.SCOPE_MANAGE) and has_console(details.user.role):
            scope_form = ScopeForm(own_scope, await queries.departments(s), await queries.host_groups(s))
    row = details.user

    def may(action: str) -> bool:
        return may_act_on_account(actor.role, Action(action), row.role, actor.delegated)

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
        scope_departments=scope_departments,
        scope_groups=scope_groups,
        scope_form=scope_form,
        directory=request.app[STATE].config.directory,
        may_break_glass=actor.role == "admin" and not actor.delegated and row.source == "directory",
        keys=keys,
    )


@dataclass(frozen=True)
class ScopeForm:
    """The scope form of a console account's page (full administrators only)."""

    current: Scope
    departments: list[Any]  # (id, name)
    host_groups: list[Any]


async def _target(request: web.Request, actor: Actor, action: Action) -> str:
    """The account in the URL, if it is in the actor's scope and the actor may do `action` to it."""
    login_id = request.match_info["login_id"]
    row = await _account(request, actor, login_id, action)
    if not may_act_on_account(actor.role, action, row.role, actor.delegated):
        raise Forbidden(action)
    return login_id


@page(Action.STAFF_EDIT)
async def update_account(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    login_id = await _target(request, actor, Action.STAFF_EDIT)
    form = await form_of(request)
    current = await _account(request, actor, login_id, Action.STAFF_EDIT)
    role = text(form, "role", 16) or current.role
    if role != current.role and (
        not actor.can(Action.STAFF_ROLE) or role not in grantable_roles(actor.role, actor.delegated)
    ):
        raise Forbidden(Action.STAFF_ROLE)
    await _check_department(request, actor, text(form, "department", 255), moving_from=current)
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
                reading=text(form, "reading", 1000) if "reading" in form else None,
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
async def local_password(request: web.Request, actor: Actor) -> web.Response:
    """Break-glass: allow or refuse a directory account's password kept here. An organisation-wide
    security choice: administrators of the whole organisation only."""
    if actor.role != "admin" or actor.delegated:
        raise Forbidden("local_password")
    login_id = await _target(request, actor, Action.STAFF_CREDENTIALS)
    form = await form_of(request)
    allowed = text(form, "allowed", 1) == "1"
    try:
        async with request.app[STATE].db.begin() as s:
            changed = await admin.set_local_password(s, login_id, allowed, actor.id, address=actor.address)
    except AdminError as exc:
        return await _render_account(request, actor, login_id, status=400, error=error_text(request, exc))
    raise done_redirect(account_url(login_id), "updated" if changed else "unchanged")


@page(Action.STAFF_CREDENTIALS)
async def remove_key(request: web.Request, actor: Actor) -> web.Response:
    """Remove one security key of a staff member in the actor's scope (outside it: 404, as the account)."""
    login_id = await _target(request, actor, Action.STAFF_CREDENTIALS)
    raw = request.match_info["key_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound(text="no such security key")
    try:
        async with request.app[STATE].db.begin() as s:
            await remove_account_key(s, login_id, int(raw), actor.id, address=actor.address)
    except AdminError:
        raise web.HTTPNotFound(text="no such security key") from None
    raise done_redirect(account_url(login_id), "key_removed")


@page(Action.STAFF_CREDENTIALS)
async def reset_password(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    login_id = await _target(request, actor, Action.STAFF_CREDENTIALS)
    async with state.db.begin() as s:
        temporary = await admin.reset_password(s, login_id, actor.id, address=actor.address)
        row = _found(await queries.account(s, login_id, actor.scope))
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
    login_id = (await _account(request, actor, request.match_info["login_id"], Action.ASSIGN)).id
    form = await form_of(request)
    host_id = text(form, "host_id", 64, required=True)
    try:
        async with request.app[STATE].db.begin() as s:
            if actor.delegated and not await actor.scope.has_host(s, host_id):
                if await WHOLE.has_host(s, host_id):  # out of scope: the same answer as no such PC
                    await refused_out_of_scope(request, actor, Action.ASSIGN)
                raise AdminError(N_("There is no office PC “{value}”."), value=host_id[:80])
            await admin.assign(s, login_id, host_id, actor.id, address=actor.address)
    except AdminError as exc:
        return await _render_account(request, actor, login_id, status=400, error=error_text(request, exc))
    raise done_redirect(account_url(login_id), "assigned")


@page(Action.ASSIGN)
async def unassign_pc(request: web.Request, actor: Actor) -> web.Response:
    login_id = (await _account(request, actor, request.match_info["login_id"], Action.ASSIGN)).id
    form = await form_of(request)
    host_id = text(form, "host_id", 64, required=True)
    async with request.app[STATE].db.begin() as s:
        if actor.delegated and not await actor.scope.has_host(s, host_id):
            raise OutOfScope(Action.ASSIGN, NO_ACCOUNT)
        await admin.unassign(s, login_id, host_id, actor.id, address=actor.address)
    raise done_redirect(account_url(login_id), "unassigned")


@page(Action.SCOPE_MANAGE)
async def change_scope(request: web.Request, actor: Actor) -> web.Response:
    """Save a console account's scope (所掌範囲) from the checkboxes of its page."""
    login_id = await _target(request, actor, Action.SCOPE_MANAGE)
    form = await form_of(request)
    try:
        async with request.app[STATE].db.begin() as s:
            changed = await admin.change_scope(
                s,
                login_id,
                _ids(form, "department"),
                _ids(form, "host_group"),
                actor.id,
                address=actor.address,
            )
    except AdminError as exc:
        return await _render_account(request, actor, login_id, status=400, error=error_text(request, exc))
    raise done_redirect(account_url(login_id), "updated" if changed else "unchanged")


def _ids(form: Any, name: str) -> list[int]:
    values = form.getall(name, [])
    if len(values) > MAX_SCOPE_TARGETS:
        raise FormError(name)
    try:
        return [int(v) for v in values if isinstance(v, str) and len(v) <= 12]
    except ValueError:
        raise FormError(name) from None
