"""Groups and policies: the policy of each department and host group, edited with validation, and a
preview of the effective policy for a (staff member, office PC) with the source of every value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from jiseki.policy_kinds import DAY_LABELS, DAY_NAMES, PolicyError
from jiseki.policy_settings import SETTINGS, Setting

from ... import admin
from ...admin import AdminError
from ...policies_db import effective_for
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
from .permissions import Action

SCOPES = ("department", "host_group")


@page(Action.VIEW)
async def policies_page(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    user_id, host_id = query_text(request, "user", 64), query_text(request, "pc", 64)
    preview = None
    async with state.db() as s:
        targets = await policy_targets(s)
        if user_id and host_id:
            preview = await effective_for(s, user_id, host_id)
    return _page(request, targets, preview=preview, preview_user=user_id, preview_pc=host_id)


def _page(
    request: web.Request,
    targets: dict[str, Any],
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
        preview=preview,
        source_text=lambda source: source_text(translator(request), source),
        preview_user=preview_user,
        preview_pc=preview_pc,
        settings=SETTINGS,  # the form's fields and the preview's rows, one per row of the catalogue
        error=error,
        days=DAY_NAMES,
        day_labels=DAY_LABELS,
    )


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


@page(Action.POLICY_MANAGE)
async def save_policy(request: web.Request, actor: Actor) -> web.StreamResponse:
    state = request.app[STATE]
    form = await form_of(request)
    scope = text(form, "scope", 16, required=True)
    name = text(form, "name", 255, required=True)
    if scope not in SCOPES:
        raise FormError("scope")
    try:
        settings = _settings_from(form)
        async with state.db.begin() as s:
            await admin.set_policy(s, scope, name, settings, actor.id, address=actor.address)
    except PolicyError as exc:
        async with state.db() as s:
            targets = await policy_targets(s)
        return _page(request, targets, status=400, error=str(exc))
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
