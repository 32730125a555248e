"""Staff accounts: the searchable list, one account's page, creating and changing accounts."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ... import admin
from ...admin import AdminError
from ...auth.accounts import ROLES, valid_login_id
from ...db.models import Assignment, AuditEvent, Department, Host, User, utcnow
from ...end_reasons import EndReason
from ..guards import STATE
from .audit_log import view_of
from .common import (
    Actor,
    Forbidden,
    done_redirect,
    error_text,
    form_of,
    page,
    paging,
    query_choice,
    query_text,
    render_console,
    text,
)
from .failed_logins import failed_logins
from .labels import LOGIN_REASONS
from .permissions import Action, grantable_roles, may_act_on_account

STATES = ("locked", "disabled", "no_totp", "must_change")
SORTS = {"id": User.id, "name": User.display_name, "last_login": User.last_login_at.desc()}


def account_url(login_id: str) -> str:
    return "/admin/account/" + quote(login_id, safe="")


def search_terms(q: str) -> list[str]:
    """The query as typed and in NFKC form (full-width ｋ０１ finds k01)."""
    normal = unicodedata.normalize("NFKC", q)
    return [q] if normal == q else [q, normal]


def _filters(q: str, role: str, state: str, now: Any) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if q:
        conds.append(
            or_(
                *(
                    c
                    for term in search_terms(q)
                    for c in (
                        User.id.icontains(term, autoescape=True),
                        User.display_name.icontains(term, autoescape=True),
                        Department.name.icontains(term, autoescape=True),
                    )
                )
            )
        )
    if role:
        conds.append(User.role == role)
    if state == "locked":
        conds.append(User.locked_until > now)
    elif state == "disabled":
        conds.append(User.disabled.is_(True))
    elif state == "no_totp":
        conds.append(User.totp_enabled.is_(False))
    elif state == "must_change":
        conds.append(User.must_change_password.is_(True))
    return conds


def staff_query(
    q: str, role: str, state: str, now: Any, sort: str, limit: int, offset: int
) -> tuple[Select[Any], Select[Any]]:
    """(rows of one page, count); the page's IDs first, then their departments (no query per row)."""
    conds = _filters(q, role, state, now)
    order = SORTS[sort]
    page_ids = (
        select(User.id.label("id"))
        .outerjoin(Department, Department.id == User.department_id)
        .where(*conds)
        .order_by(order, User.id)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = (
        select(
            User.id,
            User.display_name,
            Department.name.label("department"),
            User.role,
            User.disabled,
            User.locked_until,
            User.totp_enabled,
            User.last_login_at,
        )
        .join(page_ids, page_ids.c.id == User.id)
        .outerjoin(Department, Department.id == User.department_id)
        .order_by(order, User.id)
    )
    count = (
        select(func.count()).select_from(User).outerjoin(Department, Department.id == User.department_id).where(*conds)
    )
    return rows, count


@page(Action.VIEW)
async def staff_list(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    q = query_text(request, "q")
    role = query_choice(request, "role", ROLES)
    status = query_choice(request, "state", STATES)
    sort = query_choice(request, "sort", tuple(SORTS)) or "id"
    now = utcnow()
    async with state.db() as s:
        total = int((await s.execute(staff_query(q, role, status, now, sort, 0, 0)[1])).scalar_one())
        pg = paging(request, total)
        rows = (await s.execute(staff_query(q, role, status, now, sort, pg.size, pg.offset)[0])).all()
    return render_console(
        request,
        "console/staff_list.html",
        rows=rows,
        paging=pg,
        q=q,
        role_filter=role,
        state_filter=status,
        sort=sort,
        now=now,
        account_url=account_url,
    )


async def _departments(s: AsyncSession) -> list[str]:
    return list((await s.execute(select(Department.name).order_by(Department.name).limit(1000))).scalars())


@page(Action.STAFF_CREATE)
async def new_staff(request: web.Request, actor: Actor) -> web.Response:
    async with request.app[STATE].db() as s:
        departments = await _departments(s)
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
            departments = await _departments(s)
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


async def _account(s: AsyncSession, login_id: str) -> User:
    row = await s.get(User, login_id) if valid_login_id(login_id) else None
    if row is None:
        raise web.HTTPNotFound(text="no such account")
    return row


@page(Action.VIEW)
async def account_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render_account(request, actor, request.match_info["login_id"])


async def _render_account(
    request: web.Request, actor: Actor, login_id: str, *, status: int = 200, error: str | None = None
) -> web.Response:
    state = request.app[STATE]
    async with state.db() as s:
        row = await _account(s, login_id)
        department = await admin.department_name(s, row.department_id)
        assigned = (
            await s.execute(
                select(Host.id, Host.name, Host.online)
                .join(Assignment, Assignment.host_id == Host.id)
                .where(Assignment.user_id == login_id)
                .order_by(Host.name)
            )
        ).all()
        events = []
        if actor.can(Action.VIEW_AUDIT):
            events = list(
                (
                    await s.execute(
                        select(AuditEvent)
                        .where(or_(AuditEvent.subject == login_id, AuditEvent.actor == login_id))
                        .order_by(AuditEvent.id.desc())
                        .limit(20)
                    )
                ).scalars()
            )
        failed = await failed_logins(s, login_id)
        departments = await _departments(s)

    def may(action: str) -> bool:
        return may_act_on_account(actor.role, Action(action), row.role)

    return render_console(
        request,
        "console/account.html",
        status=status,
        account=row,
        department=department,
        departments=departments,
        assigned=assigned,
        events=[view_of(e) for e in events],
        failed_logins=failed,
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
    async with request.app[STATE].db() as s:
        row = await _account(s, login_id)
    if not may_act_on_account(actor.role, action, row.role):
        raise Forbidden(action)
    return login_id


@page(Action.STAFF_EDIT)
async def update_account(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    login_id = await _target(request, actor, Action.STAFF_EDIT)
    form = await form_of(request)
    async with state.db() as s:
        current = await _account(s, login_id)
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
        row = await _account(s, login_id)
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
            await _account(s, login_id)
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
        await _account(s, login_id)
        await admin.unassign(s, login_id, host_id, actor.id, address=actor.address)
    raise done_redirect(account_url(login_id), "unassigned")
