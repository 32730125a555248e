"""Bulk actions from the lists (staff, office PCs, live sessions, terminals).

The list's form sends its filter, the ticked rows or "all matching", and an action; the preview
shows how many rows, the first PREVIEW_ROWS of them and what will happen, and asks for what the
action needs (a department, a reason…); the confirmation runs the selection again (the list's own
query, within the actor's scope) and applies the single-row operation to each row.

For "all matching", the confirmation carries the count the preview showed: if the rows matching
changed meanwhile, the new preview is shown instead of applying something not seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from jiseki.i18n import N_

from ... import admin
from ...admin import AdminError
from ...admin import bulk as operations
from ...auth.accounts import ROLES, valid_login_id
from ...db.models import utcnow
from ...end_reasons import EndReason
from ...permissions import Action, may_act_on_account
from ...queries import bulk as selection
from ...queries import pcs as pc_queries
from ...queries import staff as staff_queries
from ...queries import terminals as terminal_queries
from ...textclean import without_controls
from ...wake import wake_many
from ..guards import STATE
from ..render import translator
from .common import Actor, Forbidden, FormError, error_text, form_of, page, render_console, text
from .labels import ROLE_LABELS

MAX_TICKED = 1000  # rows ticked on a page and sent by ID (a page lists 50)
MAX_ID = 64


@dataclass(frozen=True)
class BulkAction:
    permission: Action
    label: str  # msgid
    effect: str  # msgid with {n}: what will happen
    needs: str = ""  # "department", "end" (reason and hold), "login_id", "login_id_optional", "reason"


ACTIONS: dict[str, dict[str, BulkAction]] = {
    "staff": {
        "disable": BulkAction(
            Action.STAFF_DISABLE,
            N_("Disable"),
            N_("{n} accounts will be disabled: they are signed out everywhere and their connections end."),
        ),
        "enable": BulkAction(Action.STAFF_DISABLE, N_("Enable"), N_("{n} accounts will be enabled.")),
        "move": BulkAction(
            Action.STAFF_EDIT,
            N_("Move to a department"),
            N_("{n} staff members will move to the department below."),
            "department",
        ),
        "end_sessions": BulkAction(
            Action.SESSION_END,
            N_("End their connections"),
            N_("The open connections of {n} staff members will end; they see the reason below."),
            "end",
        ),
    },
    "pcs": {
        "assign": BulkAction(
            Action.ASSIGN,
            N_("Assign to a staff member"),
            N_("{n} office PCs will be assigned to the staff member below."),
            "login_id",
        ),
        "unassign": BulkAction(
            Action.ASSIGN,
            N_("Remove assignments"),
            N_("{n} office PCs lose their assignment to the staff member below (left empty: every assignment)."),
            "login_id_optional",
        ),
        "wake": BulkAction(
            Action.PC_WAKE,
            N_("Power on"),
            N_("A Wake-on-LAN signal will be sent to {n} office PCs (those already on are left as they are)."),
        ),
    },
    "sessions": {
        "end": BulkAction(
            Action.SESSION_END,
            N_("End the connections"),
            N_("{n} connections will end; the staff members see the reason below."),
            "end",
        ),
    },
    "terminals": {
        "revoke": BulkAction(
            Action.TERMINAL_MANAGE,
            N_("Revoke"),
            N_("The certificates of {n} terminals will be revoked: they can no longer connect."),
            "reason",
        ),
    },
}

LIST_URLS = {
    "staff": "/admin/staff",
    "pcs": "/admin/pcs",
    "sessions": "/admin/sessions",
    "terminals": "/admin/terminals",
}
STATES: dict[str, tuple[str, ...]] = {
    "staff": staff_queries.STATES,
    "pcs": pc_queries.STATES,
    "sessions": (),
    "terminals": terminal_queries.STATES,
}


@dataclass(frozen=True)
class Request:
    """What the list's form (and the preview's, again) sends."""

    kind: str
    action: str
    filters: selection.Filters
    ticked: list[str] | None  # None: every row matching the filter

    @property
    def spec(self) -> BulkAction:
        return ACTIONS[self.kind][self.action]


def _value(form: MultiDictProxy[Any], name: str, max_len: int = 100) -> str:
    """A filter field as the list reads it from its query string (controls dropped, cut)."""
    value = form.get(name, "")
    return without_controls(value).strip()[:max_len] if isinstance(value, str) else ""


def _request_of(request: web.Request, form: MultiDictProxy[Any], actor: Actor) -> Request:
    if not any(actor.can(a.permission) for actions in ACTIONS.values() for a in actions.values()):
        raise Forbidden("bulk")  # a role that changes nothing (the auditor) is refused first, and audited
    kind = request.match_info["kind"]
    if kind not in ACTIONS:
        raise web.HTTPNotFound(text="no such list")
    action = form.get("action", "")
    if action not in ACTIONS[kind]:
        raise FormError("action")
    if not actor.can(ACTIONS[kind][action].permission):
        raise Forbidden(ACTIONS[kind][action].permission)
    role, state = _value(form, "role"), _value(form, "state")
    department = _value(form, "filter_department")
    filters = selection.Filters(
        q=_value(form, "q"),
        role=role if kind == "staff" and role in ROLES else "",
        state=state if state in STATES[kind] else "",
        # As in the list: a department ID out of the scope (the scope clause applies) matches nobody.
        department=(int(department) if department.isdigit() and len(department) < 10 else -1) if department else None,
    )
    mode = form.get("select", "checked")
    if mode not in ("checked", "all"):
        raise FormError("select")
    ticked = None
    if mode == "checked":
        sent = form.getall("id", [])
        if len(sent) > MAX_TICKED or any(not isinstance(v, str) or not 0 < len(v) <= MAX_ID for v in sent):
            raise FormError("id")
        ticked = list(dict.fromkeys(str(v) for v in sent))
    return Request(kind, action, filters, ticked)


async def _select(request: web.Request, actor: Actor, bulk: Request) -> selection.Selection:
    async with request.app[STATE].db() as s:
        return await selection.select_rows(s, bulk.kind, bulk.filters, actor.scope, utcnow(), bulk.ticked)


def _cells(request: web.Request, kind: str, row: Any) -> list[str]:
    _ = translator(request)
    if kind == "staff":
        state = _("Disabled") if row.disabled else _("Active")
        return [row.id, row.display_name, row.department or "—", _(ROLE_LABELS.get(row.role, row.role)), state]
    if kind == "pcs":
        return [row.id, row.name, row.hostname or "—", _("Online") if row.online else _("Offline"), f"{row.assigned:,}"]
    if kind == "sessions":
        return [
            row.display_name or row.user_id or "—",
            row.user_id or "",
            row.host_name or row.host_id,
            row.terminal_name or row.terminal_id or "—",
        ]
    return [row.id, row.name, _("Registered") if row.state == "active" else _("Revoked")]


COLUMNS = {
    "staff": (N_("Login ID"), N_("Name"), N_("Department"), N_("Role"), N_("State")),
    "pcs": (N_("PC ID"), N_("PC name"), N_("Host name"), N_("State"), N_("Assigned staff")),
    "sessions": (N_("Staff member"), N_("Login ID"), N_("Office PC"), N_("Terminal")),
    "terminals": (N_("Terminal ID"), N_("Terminal name"), N_("State")),
}


async def _preview(
    request: web.Request,
    actor: Actor,
    bulk: Request,
    values: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    found = await _select(request, actor, bulk)
    async with request.app[STATE].db() as s:
        rows = await selection.preview_rows(s, bulk.kind, found.ids)
        sessions = len(await selection.live_sessions_of(s, found.ids)) if bulk.action == "end_sessions" else None
        departments = await staff_queries.department_names(s, actor.scope) if bulk.spec.needs == "department" else []
    _ = translator(request)
    return render_console(
        request,
        "console/bulk_preview.html",
        status=status,
        section=bulk.kind,
        kind=bulk.kind,
        action=bulk.action,
        spec=bulk.spec,
        effect=_(bulk.spec.effect, n=f"{found.total:,}"),
        total=found.total,
        too_many=found.too_many,
        limit=selection.MAX_BULK,
        sessions=sessions,
        columns=COLUMNS[bulk.kind],
        rows=[_cells(request, bulk.kind, r) for r in rows],
        more=found.total - len(rows),
        filters=bulk.filters,
        ticked=found.ids if bulk.ticked is not None else None,
        values=values,
        departments=departments,
        holds=admin.HOLD_MINUTES,
        error=error,
        list_url=LIST_URLS[bulk.kind],
    )


@page(Action.VIEW)
async def preview(request: web.Request, actor: Actor) -> web.Response:
    form = await form_of(request)
    bulk = _request_of(request, form, actor)
    error = None
    if bulk.ticked == []:
        error = translator(request)(N_("Tick at least one row, or choose every row matching the search."))
    return await _preview(request, actor, bulk, {"hold": "10"}, error=error, status=400 if error else 200)


def _params(form: MultiDictProxy[Any]) -> dict[str, str]:
    return {
        "department": text(form, "department", 255),
        "message": without_controls(str(form.get("message", "")), keep_breaks=True)[:2000],
        "hold": str(form.get("hold", ""))[:8],
        "login_id": text(form, "login_id", MAX_ID),
        "reason": text(form, "reason", admin.MAX_REASON),
    }


@page(Action.VIEW)
async def apply(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    form = await form_of(request)
    bulk = _request_of(request, form, actor)
    values = _params(form)
    found = await _select(request, actor, bulk)
    _ = translator(request)
    if bulk.ticked is not None and not found.ids:
        return await _preview(request, actor, bulk, values, status=400, error=_(N_("No row matches any more.")))
    if found.too_many:
        return await _preview(request, actor, bulk, values, status=400)
    if bulk.ticked is None and str(found.total) != str(form.get("expected", "")):
        message = _(N_("The rows matching the search changed since the preview: please check them again."))
        return await _preview(request, actor, bulk, values, status=409, error=message)
    try:
        result = await _run(request, actor, bulk, found.ids, values)
    except AdminError as exc:
        return await _preview(request, actor, bulk, values, status=400, error=error_text(request, exc))
    if bulk.action == "disable":
        for login_id in result.changed:
            await state.broker.close_user_sessions(login_id, EndReason.ACCOUNT_DISABLED)
    for session_id, node in result.after:
        await state.broker.close_anywhere(session_id, node, EndReason.ADMIN)
    if bulk.action == "revoke" and result.changed:
        state.watcher.poke()  # close the terminals' live connections now rather than at the next poll
    return render_console(
        request,
        "console/bulk_done.html",
        section=bulk.kind,
        spec=bulk.spec,
        result=result,
        refused=[(r.row_id, _(r.msgid, **r.values)) for r in result.refused[: selection.PREVIEW_ROWS]],
        list_url=LIST_URLS[bulk.kind],
    )


def _hold(values: dict[str, str]) -> int:
    try:
        return int(values["hold"])
    except ValueError:
        raise FormError("hold") from None


async def _staff_in_scope(request: web.Request, actor: Actor, login_id: str) -> str:
    if not valid_login_id(login_id):
        raise AdminError(N_("There is no staff account “{value}”."), value=login_id[:80])
    async with request.app[STATE].db() as s:
        if not await actor.scope.has_user(s, login_id):
            raise AdminError(N_("There is no staff account “{value}”."), value=login_id[:80])
    return login_id


async def _run(
    request: web.Request, actor: Actor, bulk: Request, ids: list[str], values: dict[str, str]
) -> operations.BulkResult:
    db = request.app[STATE].db
    who = operations.BulkActor(actor.id, actor.address)

    def may(role: str) -> bool:
        return may_act_on_account(actor.role, bulk.spec.permission, role, actor.delegated)

    if bulk.action in ("disable", "enable"):
        return await operations.set_staff_disabled(db, ids, bulk.action == "disable", who, may)
    if bulk.action == "move":
        department = values["department"]
        async with db() as s:
            if not await selection.department_in_scope(s, department, actor.scope):
                raise AdminError(N_("The department “{value}” is not one you look after."), value=department)
        return await operations.move_staff(db, ids, department, who, may)
    if bulk.action in ("end_sessions", "end"):
        message = admin.check_end(values["message"], _hold(values))
        if bulk.action == "end_sessions":
            async with db() as s:
                ids = await selection.live_sessions_of(s, ids)
        return await operations.end_sessions(db, ids, message, _hold(values), who, kind=f"{bulk.kind}_{bulk.action}")
    if bulk.action == "assign":
        if not values["login_id"]:
            raise AdminError(N_("Please enter the staff member's login ID."))
        return await operations.assign_pcs(db, ids, await _staff_in_scope(request, actor, values["login_id"]), who)
    if bulk.action == "unassign":
        login_id = await _staff_in_scope(request, actor, values["login_id"]) if values["login_id"] else None
        return await operations.unassign_pcs(db, ids, login_id, who)
    if bulk.action == "wake":
        return await wake_many(request.app[STATE], ids, who)
    if bulk.action == "revoke":
        return await operations.revoke_terminals(db, ids, admin.revocation_reason(values["reason"]), who)
    raise FormError("action")
