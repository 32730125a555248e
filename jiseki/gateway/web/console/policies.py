"""Groups and policies: the policy of each department and host group, edited with validation, and a
preview of the effective policy for a (staff member, office PC) with the source of every value."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from jiseki.i18n import N_

from ... import audit
from ...db.models import Department, Host, HostGroup, PolicyRow
from ...policies_db import SETTINGS, effective_for, set_host_group, set_policy
from ...policy import CLIPBOARD_MODES, CONFLICT_MODES, DAY_NAMES, PolicyError
from ..guards import STATE
from ..policy_labels import source_text
from ..render import translator
from .common import Actor, FormError, done_redirect, form_of, page, query_text, render_console, text
from .permissions import Action

BOOL_SETTINGS = ("view_only", "watermark", "lock_on_end", "curtain", "record")
LABELS = {
    "clipboard_labels": {
        "none": N_("Not shared"),
        "to_host": N_("Terminal → office PC only"),
        "to_terminal": N_("Office PC → terminal only"),
        "both": N_("Both ways"),
    },
    "setting_labels": {
        "clipboard_max_bytes": N_("Clipboard size limit (bytes)"),
        "idle_minutes": N_("Idle timeout (minutes)"),
        "max_minutes": N_("Maximum session length (minutes)"),
        "view_only": N_("View only"),
        "watermark": N_("Watermark"),
        "lock_on_end": N_("Lock the PC when the session ends"),
        "curtain": N_("Blank the office screen and lock its input"),
        "record": N_("Record sessions"),
    },
    "day_labels": {
        "mon": N_("Mon"),
        "tue": N_("Tue"),
        "wed": N_("Wed"),
        "thu": N_("Thu"),
        "fri": N_("Fri"),
        "sat": N_("Sat"),
        "sun": N_("Sun"),
    },
}
INT_SETTINGS = ("clipboard_max_bytes", "idle_minutes", "max_minutes")
SCOPES = ("department", "host_group")


async def _targets(s: Any) -> dict[str, list[tuple[int, str, PolicyRow | None]]]:
    rows = {(p.scope, p.target_id): p for p in (await s.execute(select(PolicyRow))).scalars()}
    departments = (await s.execute(select(Department.id, Department.name).order_by(Department.name))).all()
    groups = (await s.execute(select(HostGroup.id, HostGroup.name).order_by(HostGroup.name))).all()
    return {
        "department": [(i, n, rows.get(("department", i))) for i, n in departments],
        "host_group": [(i, n, rows.get(("host_group", i))) for i, n in groups],
    }


@page(Action.VIEW)
async def policies_page(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    user_id, host_id = query_text(request, "user", 64), query_text(request, "pc", 64)
    preview = None
    async with state.db() as s:
        targets = await _targets(s)
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
        settings=SETTINGS,
        error=error,
        days=DAY_NAMES,
        clipboard_modes=CLIPBOARD_MODES,
        conflict_modes=CONFLICT_MODES,
        bool_settings=BOOL_SETTINGS,
        int_settings=INT_SETTINGS,
        **LABELS,
    )


def _settings_from(form: Any) -> dict[str, Any]:
    """Every setting of the form: "" means "not set here" (another policy or the default decides)."""
    out: dict[str, Any] = {}
    for key in SETTINGS:
        raw = text(form, key, 64)
        if key in BOOL_SETTINGS:
            if raw not in ("", "yes", "no"):
                raise FormError(key)
            out[key] = None if raw == "" else raw == "yes"
        elif key in INT_SETTINGS:
            if raw == "":
                out[key] = None
            elif raw.isdigit() and len(raw) <= 8:
                out[key] = int(raw)
            else:
                raise PolicyError(f"{key}: must be a whole number")
        elif key == "days":
            picked = [d for d in DAY_NAMES if form.get(f"day_{d}") == "on"]
            out[key] = ",".join(picked) if form.get("days_set") == "on" else None
        else:
            out[key] = raw or None
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
            before, after = await set_policy(s, scope, name, settings, actor.id)
            s.add(
                audit.change(
                    "policy_changed",
                    actor=actor.id,
                    subject=f"{scope}:{name}",
                    address=actor.address,
                    before=before,
                    after=after,
                )
            )
    except PolicyError as exc:
        async with state.db() as s:
            targets = await _targets(s)
        return _page(request, targets, status=400, error=str(exc))
    raise done_redirect("/admin/policies", "updated")


@page(Action.POLICY_MANAGE)
async def set_group(request: web.Request, actor: Actor) -> web.StreamResponse:
    state = request.app[STATE]
    form = await form_of(request)
    host_id = text(form, "pc", 64, required=True)
    group = text(form, "group", 255)
    async with state.db.begin() as s:
        host = await s.get(Host, host_id)
        if host is None:
            raise web.HTTPNotFound(text=translator(request)("This office PC is not registered."))
        before = host.host_group_id
        try:
            await set_host_group(s, host_id, group or None)
        except PolicyError as exc:
            raise FormError(str(exc)) from None
        s.add(
            audit.change(
                "host_group_changed",
                actor=actor.id,
                subject=host_id,
                address=actor.address,
                before={"host_group_id": before},
                after={"host_group": group or None},
            )
        )
    raise done_redirect("/admin/policies", "updated")
