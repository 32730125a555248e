"""Office PCs: the list with their state, one PC's page, assignments, enrollment tokens, revocation."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, or_, select

from jiseki.i18n import N_

from ... import admin
from ...admin import AdminError
from ...assignments_csv import AssignmentRow
from ...auth.accounts import valid_login_id
from ...auth.users_csv import RowError
from ...db.models import (
    Assignment,
    AuditEvent,
    Certificate,
    Department,
    EnrollmentToken,
    Host,
    Session,
    User,
    utcnow,
)
from ...hosts import valid_host_id
from ..guards import STATE
from ..render import translator
from .audit_log import view_of
from .common import (
    Actor,
    FormError,
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
from .permissions import Action
from .staff import account_url, search_terms

STATES = ("online", "offline", "in_use", "locked", "revoked")
MAX_IDS = 1000
_SEPARATORS = re.compile(r"[\s,;、，]+")


def pc_url(host_id: str) -> str:
    return "/admin/pc/" + quote(host_id, safe="")


def _live_hosts() -> Select[Any]:
    """PCs with a live session; computed once per query (a few hundred rows), not once per PC."""
    return select(Session.host_id).where(Session.state == "live")


def _certificate_valid() -> ColumnElement[bool]:
    return exists().where(Certificate.fingerprint == Host.cert_fingerprint, Certificate.revoked_at.is_(None))


def _filters(q: str, status: str) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if q:
        conds.append(
            or_(
                *(
                    c
                    for t in search_terms(q)
                    for c in (
                        Host.id.icontains(t, autoescape=True),
                        Host.name.icontains(t, autoescape=True),
                        Host.hostname.icontains(t, autoescape=True),
                        Host.signed_in_user.icontains(t, autoescape=True),
                    )
                )
            )
        )
    if status == "online":
        conds.append(Host.online.is_(True))
    elif status == "offline":
        conds.append(Host.online.is_(False))
    elif status == "in_use":
        conds.append(Host.id.in_(_live_hosts()))
    elif status == "locked":
        conds.append(and_(Host.online.is_(True), Host.locked.is_(True)))
    elif status == "revoked":
        conds.append(not_(_certificate_valid()))
    return conds


def pc_query(q: str, status: str, limit: int, offset: int) -> tuple[Select[Any], Select[Any]]:
    """(rows of one page, count): state, OS, signed-in user, version, number of assigned staff.

    The page's IDs are chosen first on the (name, id) index; only those rows are then joined with
    their assignments, sessions and certificate, so the last page costs what the first does.
    """
    conds = _filters(q, status)
    page_ids = (
        select(Host.id.label("id")).where(*conds).order_by(Host.name, Host.id).limit(limit).offset(offset).subquery()
    )
    assigned = select(func.count()).where(Assignment.host_id == Host.id).correlate(Host).scalar_subquery()
    rows = (
        select(
            Host.id,
            Host.name,
            Host.online,
            Host.locked,
            Host.os,
            Host.hostname,
            Host.signed_in_user,
            Host.agent_version,
            Host.last_seen,
            assigned.label("assigned"),
            Host.id.in_(_live_hosts()).label("in_use"),
            _certificate_valid().label("valid"),
        )
        .join(page_ids, page_ids.c.id == Host.id)
        .order_by(Host.name, Host.id)
    )
    count = select(func.count()).select_from(Host).where(*conds)
    return rows, count


@page(Action.VIEW)
async def pc_list(request: web.Request, actor: Actor) -> web.Response:
    q = query_text(request, "q")
    status = query_choice(request, "state", STATES)
    async with request.app[STATE].db() as s:
        total = int((await s.execute(pc_query(q, status, 0, 0)[1])).scalar_one())
        pg = paging(request, total)
        rows = (await s.execute(pc_query(q, status, pg.size, pg.offset)[0])).all()
    return render_console(
        request, "console/pc_list.html", rows=rows, paging=pg, q=q, state_filter=status, pc_url=pc_url
    )


async def _host(request: web.Request) -> Host:
    host_id = request.match_info["host_id"]
    async with request.app[STATE].db() as s:
        row = await s.get(Host, host_id) if valid_host_id(host_id) else None
    if row is None:
        raise web.HTTPNotFound(text="no such office PC")
    return row


@page(Action.VIEW)
async def pc_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render_pc(request, actor, await _host(request))


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
        certificate = await s.get(Certificate, host.cert_fingerprint)
        staff = (
            await s.execute(
                select(User.id, User.display_name, Department.name.label("department"), User.disabled)
                .join(Assignment, Assignment.user_id == User.id)
                .outerjoin(Department, Department.id == User.department_id)
                .where(Assignment.host_id == host.id)
                .order_by(User.id)
            )
        ).all()
        sessions = (
            await s.execute(
                select(
                    Session.id,
                    Session.user_id,
                    User.display_name,
                    Session.terminal_id,
                    Session.state,
                    Session.started_at,
                    Session.ended_at,
                    Session.end_reason,
                )
                .outerjoin(User, User.id == Session.user_id)
                .where(Session.host_id == host.id)
                .order_by(Session.created_at.desc())
                .limit(10)
            )
        ).all()
        in_use = any(row.state == "live" for row in sessions)
        events = []
        if actor.can(Action.VIEW_AUDIT):
            events = list(
                (
                    await s.execute(
                        select(AuditEvent).where(AuditEvent.subject == host.id).order_by(AuditEvent.id.desc()).limit(20)
                    )
                ).scalars()
            )
    return render_console(
        request,
        "console/pc.html",
        status=status,
        host=host,
        certificate=certificate,
        staff=staff,
        sessions=sessions,
        in_use=in_use,
        events=[view_of(e) for e in events],
        error=error,
        result=result,
        login_ids=login_ids,
        account_url=account_url,
        pc_url=pc_url(host.id),
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
    """Assign many staff to this PC at once; each ID's outcome is listed."""
    host = await _host(request)
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
    async with request.app[STATE].db.begin() as s:
        result = await admin.import_assignments(s, rows, invalid, actor.id, address=actor.address)
    _ = translator(request)
    summary = {
        "assigned": [r.login_id for r in result.valid],
        "unchanged": [r.login_id for r in result.unchanged],
        "errors": [_(e.msgid, **e.values) for e in result.errors],
    }
    return await _render_pc(request, actor, host, result=summary, login_ids="" if not result.errors else raw)


@page(Action.ASSIGN)
async def unassign(request: web.Request, actor: Actor) -> web.Response:
    host = await _host(request)
    form = await form_of(request)
    async with request.app[STATE].db.begin() as s:
        await admin.unassign(s, text(form, "login_id", 64, required=True), host.id, actor.id, address=actor.address)
    raise done_redirect(pc_url(host.id), "unassigned")


@page(Action.PC_MANAGE)
async def revoke(request: web.Request, actor: Actor) -> web.Response:
    host = await _host(request)
    form = await form_of(request)
    state = request.app[STATE]
    try:
        async with state.db.begin() as s:
            await admin.revoke_host(s, host.id, text(form, "reason", admin.MAX_REASON), actor.id, address=actor.address)
    except AdminError as exc:
        return await _render_pc(request, actor, host, status=400, error=error_text(request, exc))
    state.watcher.poke()
    raise done_redirect(pc_url(host.id), "revoked")


# ---- enrollment tokens --------------------------------------------------------------------------


async def _render_tokens(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
    token: str | None = None,
) -> web.Response:
    async with request.app[STATE].db() as s:
        tokens = list(
            (await s.execute(select(EnrollmentToken).order_by(EnrollmentToken.created_at.desc()).limit(100))).scalars()
        )
    return render_console(
        request,
        "console/enrollment.html",
        status=status,
        tokens=tokens,
        now=utcnow(),
        error=error,
        values=values or {"hours": "24"},
        token=token,
        pc_url=pc_url,
        hour_range=admin.TOKEN_HOURS,
        request_host=request.host,
    )


@page(Action.VIEW)
async def tokens(request: web.Request, actor: Actor) -> web.Response:
    return await _render_tokens(request)


@page(Action.PC_MANAGE)
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


@page(Action.PC_MANAGE)
async def cancel_token(request: web.Request, actor: Actor) -> web.Response:
    try:
        async with request.app[STATE].db.begin() as s:
            await admin.cancel_enrollment_token(s, request.match_info["token_id"], actor.id, address=actor.address)
    except AdminError as exc:
        return await _render_tokens(request, status=400, error=error_text(request, exc))
    raise done_redirect("/admin/enrollment", "token_cancelled")
