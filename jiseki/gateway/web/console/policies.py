"""Groups and policies: the organisation's default (全庁の既定) and the policy of each department and
host group, edited with validation (an empty field says what it inherits, never a sample value), and
a preview of the effective policy for a (staff member, office PC) with the source of every value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from jiseki.policy_kinds import DAY_LABELS, DAY_NAMES, PolicyError
from jiseki.policy_settings import SETTINGS, Setting

from ... import admin
from ...admin import AdminError
from ...auth import second_factor
from ...permissions import Action
from ...policies_db import effective_for, organisation_policy
from ...policy import ORGANISATION, Effective, combine
from ...queries.policies import policy_targets
from ..guards import STATE
from ..policy_labels import source_text
from ..render import translator
from .common import (
    Actor,
    FormError,
    done_redirect,
    error_text,
    form_of,
    page,
    query_text,
    render_console,
    text,
)

SCOPES = (ORGANISATION, "department", "host_group")


@page(Action.VIEW_ORGANISATION)
async def policies_page(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    user_id, host_id = query_text(request, "user", 64), query_text(request, "pc", 64)
    preview = None
    async with state.db() as s:
        targets, inherited = await _targets(s)
        if user_id and host_id:
            # A staff member or PC outside the actor's scope is not found, as elsewhere.
            if not (await actor.scope.has_user(s, user_id) and await actor.scope.has_host(s, host_id)):
                raise web.HTTPNotFound(text="no such staff member or office PC")
            preview = await effective_for(s, user_id, host_id)
    return _page(request, targets, inherited, preview=preview, preview_user=user_id, preview_pc=host_id)


async def _targets(s: Any) -> tuple[dict[str, Any], dict[str, Effective]]:
    """The policies to list, and what an unset field of each scope's form inherits: the built-in
    default for the organisation's, the organisation's default (over the built-in) for the others."""
    organisation = await organisation_policy(s)
    below = combine([], organisation)
    return await policy_targets(s), {ORGANISATION: combine([]), "department": below, "host_group": below}


def _page(
    request: web.Request,
    targets: dict[str, Any],
    inherited: dict[str, Effective],
    status: int = 200,
    error: str | None = None,
    preview: Any = None,
    preview_user: str = "",
    preview_pc: str = "",
) -> web.Response:
    return render_console(
        request,
        "console/policies.html",
        status=status,
        section="policies",
        targets=targets,
        inherited=inherited,
        preview=preview,
        source_text=lambda source: source_text(translator(request), source),
        preview_user=preview_user,
        preview_pc=preview_pc,
        settings=SETTINGS,  # the form's fields and the preview's rows, one per row of the catalogue
        second_factor=second_factor,  # the login's second factor: organisation and departments only
        organisation_factor=_organisation_factor(targets),
        error=error,
        days=DAY_NAMES,
        day_labels=DAY_LABELS,
    )


def _organisation_factor(targets: dict[str, Any]) -> tuple[str, str]:
    """What a department's unset second factor inherits, and from where: the organisation default's
    value, or the built-in one."""
    row = targets[ORGANISATION][0][2]
    if row is not None and row.second_factor in second_factor.VALUES:
        return row.second_factor, ORGANISATION
    return second_factor.DEFAULT, "default"


# How each kind of control (`Kind.form`, drawn by the template's `setting_field`) reads back: the
# stored value, or None for "not set here" (another policy or the default decides).
Form = MultiDictProxy[Any]


def _choice(form: Form, setting: Setting) -> Any:
    return text(form, setting.name, 64) or None


def _number(form: Form, setting: Setting) -> Any:
    raw = text(form, setting.name, 64)
    if raw == "":
        return None
    if raw.isdigit() and len(raw) <= 8:
        return int(raw)
    raise PolicyError(f"{setting.name}: must be a whole number")


def _switch(form: Form, setting: Setting) -> Any:
    raw = text(form, setting.name, 64)
    if raw not in ("", "yes", "no"):
        raise FormError(setting.name)
    return None if raw == "" else raw == "yes"


def _days(form: Form, setting: Setting) -> Any:
    if form.get(f"{setting.name}_set") != "on":
        return None
    return ",".join(d for d in DAY_NAMES if form.get(f"day_{d}") == "on")


def _window(form: Form, setting: Setting) -> Any:
    start, end = (text(form, column, 64) or None for column in setting.columns)
    return None if start is None and end is None else (start, end)


READERS: dict[str, Callable[[Form, Setting], Any]] = {
    "choice": _choice,
    "number": _number,
    "switch": _switch,
    "days": _days,
    "window": _window,
}


def _settings_from(form: Form) -> dict[str, Any]:
    """Every column of the form's policy: None where the form says "not set here"."""
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        out |= setting.kind.to_columns(setting.name, READERS[setting.kind.form](form, setting))
    return out


def _second_factor_from(form: Form, scope: str) -> dict[str, Any]:
    """The login's second factor (organisation and departments only): None where "not set here"."""
    if scope not in second_factor.SCOPES or "second_factor" not in form:
        return {}
    raw = text(form, "second_factor", 16)
    if raw not in ("", *second_factor.VALUES):
        raise FormError("second_factor")
    return {"second_factor": raw or None}


@page(Action.POLICY_MANAGE)
async def save_policy(request: web.Request, actor: Actor) -> web.StreamResponse:
    state = request.app[STATE]
    form = await form_of(request)
    scope = text(form, "scope", 16, required=True)
    if scope not in SCOPES:
        raise FormError("scope")
    name = text(form, "name", 255, required=scope != ORGANISATION)
    try:
        settings = _settings_from(form) | _second_factor_from(form, scope)
        async with state.db.begin() as s:
            await admin.set_policy(s, scope, name, settings, actor.id, address=actor.address)
    except PolicyError as exc:
        async with state.db() as s:
            targets, inherited = await _targets(s)
        return _page(request, targets, inherited, status=400, error=str(exc))
    raise done_redirect("/admin/policies", "updated")


@page(Action.POLICY_MANAGE)
async def set_group(request: web.Request, actor: Actor) -> web.StreamResponse:
    state = request.app[STATE]
    form = await form_of(request)
    host_id = text(form, "pc", 64, required=True)
    group = text(form, "group", 255)
    try:
        async with state.db.begin() as s:
            await admin.set_host_group(s, host_id, group, actor.id, address=actor.address)
    except AdminError as exc:  # no such office PC
        raise web.HTTPNotFound(text=error_text(request, exc)) from None
    raise done_redirect("/admin/policies", "updated")
