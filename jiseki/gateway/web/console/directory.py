"""The directory page (`/admin/directory`, full administrators only): the [directory] settings as
configured (never the service account's password) and a connection test of every server. The
synchronisation's part of the page is added in the template's `sync` block."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from jiseki.config_directory import DirectoryConfig
from jiseki.i18n import N_

from ... import audit
from ...directory import sync
from ...directory.client import ServerCheck, test_connection
from ...directory.plan import KINDS, NOTES, Change
from ...permissions import Action
from ..guards import STATE
from ..render import translator
from .common import Actor, form_of, page, render_console
from .labels import DETAIL_KEYS, IMPORT_ACTIONS, ROLE_LABELS, TRIGGERS

PATH = "/admin/directory"

# Why a server failed the test (ServerCheck.error), in the administrator's words.
CHECK_ERRORS = {
    "unreachable": N_("No answer (check the address, the port and the firewall)"),
    "tls": N_("The TLS connection failed (certificate not trusted, wrong name, or StartTLS refused)"),
    "service_bind": N_("The service account was refused (check service_dn and the password)"),
}


def settings_rows(config: DirectoryConfig) -> list[tuple[str, str]]:
    """(label msgid, value) for the settings table; values are shown as configured, untranslated."""
    roles = ", ".join(f"{role}: {dn}" for role, dn in sorted(config.role_groups.items()))
    return [
        (N_("Kind"), "Active Directory" if config.kind == "ad" else "LDAP"),
        (N_("Servers (in the order tried)"), "\n".join(config.servers)),
        (N_("StartTLS for ldap://"), "true" if config.start_tls else "false"),
        (N_("CA certificate file"), config.ca_file),
        (N_("Timeout (seconds)"), str(config.timeout_seconds)),
        (N_("How the password is checked"), config.bind),
        (N_("UPN suffix"), config.upn_suffix),
        (N_("NetBIOS domain"), config.netbios_domain),
        (N_("Service account"), config.service_dn),
        (N_("Service account password"), "********" if config.service_password else ""),
        (N_("Search bases"), "\n".join(config.base_dns)),
        (N_("Staff filter"), config.effective_user_filter),
        (N_("Only members of"), "\n".join(config.group_dns)),
        (N_("Login ID attribute"), config.effective_login_attribute),
        (N_("Name attribute"), config.name_attribute),
        (N_("Reading attribute"), config.reading_attribute),
        (N_("Department attribute"), config.department_attribute),
        (N_("Mail address attribute"), config.mail_attribute),
        (N_("Roles by group"), roles),
        (N_("Synchronisation interval (minutes)"), str(config.sync_interval_minutes)),
        (N_("Break-glass passwords here"), config.local_password),
        (N_("Most entries accepted"), str(config.max_entries)),
    ]


async def render_page(
    request: web.Request, checks: list[ServerCheck] | None = None, status: int = 200, **sync: Any
) -> web.Response:
    """The page; `sync`: the synchronisation's results to show (`sync_context`)."""

    config: DirectoryConfig = request.app[STATE].config.directory
    return render_console(
        request,
        "console/directory.html",
        status=status,
        section="directory",
        directory=config,
        settings=settings_rows(config),
        checks=checks,
        check_errors=CHECK_ERRORS,
        **await sync_context(request, **sync),
    )


@page(Action.DIRECTORY)
async def directory_page(request: web.Request, actor: Actor) -> web.Response:
    return await render_page(request)


@page(Action.DIRECTORY)
async def run_test(request: web.Request, actor: Actor) -> web.Response:
    """接続テスト: each server in turn; the answer is this page with the results (nothing changes)."""
    state = request.app[STATE]
    config: DirectoryConfig = state.config.directory
    checks = await test_connection(config) if config.servers else []
    passed = sum(1 for c in checks if c.tls_ok and c.bind_ok is not False)
    await audit.record(
        state.db,
        "directory_tested",
        "ok" if checks and passed == len(checks) else "error",
        actor=actor.id,
        address=actor.address,
        servers=len(checks),
        passed=passed,
    )
    return await render_page(request, checks)


# ---- the synchronisation's part of the page -------------------------------------------------

PREVIEW_ROWS = 200  # rows shown; the counts give the total

KIND_LABELS = {k: IMPORT_ACTIONS[k] for k in KINDS}  # as the staff import words them
NOTE_LABELS = {
    "conflict": N_("A local account has this login ID: left as it is"),
    "invalid": N_("The login ID cannot be used here"),
    "duplicate": N_("The login ID appears twice in the directory"),
    "kept_disabled": N_("Disabled by an administrator: stays disabled"),
    "last_admin": N_("The last administrator: not disabled or demoted"),
}
REASON_LABELS = {
    "gone": N_("No longer in the directory or its groups"),
    "disabled": N_("Disabled in the directory"),
    "expired": N_("Expired in the directory"),
}
STATE_LABELS = {"running": N_("Running"), "done": N_("Finished"), "failed": N_("Failed")}
FIELD_LABELS = {k: DETAIL_KEYS[k] for k in ("display_name", "reading", "department", "role", "email")}
BUSY = N_("Another synchronisation is running. Please try again when it has finished.")
NOT_ENABLED = N_("The directory is not enabled in the configuration (the [directory] section of jiseki.toml).")
FAILED = N_("The synchronisation failed; nothing was changed. The directory did not answer or gave too many entries.")


def _run_row(run: Any) -> dict[str, Any]:
    try:
        counts = json.loads(run.counts) if run.counts else {}
    except ValueError:
        counts = {}
    return {"run": run, "counts": counts}


async def sync_context(request: web.Request, **shown: Any) -> dict[str, Any]:
    """What the directory page's synchronisation part needs; `shown`: a run's result to show
    (`plan`, `result`, `dry_run`) or an error (`sync_error`, `sync_detail`)."""
    async with request.app[STATE].db() as s:
        runs = [_run_row(r) for r in await sync.last_runs(s)]
    _ = translator(request)

    def change_text(change: Change) -> str:
        if change.kind == "disable":
            return _(REASON_LABELS.get(change.reason, change.reason))
        parts = []
        for key, value in change.after.items():
            shown_value = _(ROLE_LABELS.get(value, value)) if key == "role" and value else (value or "—")
            if key in change.before:
                old = change.before[key]
                old = _(ROLE_LABELS.get(old, old)) if key == "role" and old else (old or "—")
                shown_value = f"{old} → {shown_value}"
            parts.append(_("{key}: {value}", key=_(FIELD_LABELS[key]), value=shown_value))
        return " / ".join(parts)

    defaults: dict[str, Any] = {"sync_error": None, "sync_detail": None, "plan": None, "result": None, "dry_run": False}
    return (
        defaults
        | shown
        | {
            "runs": runs,
            "kinds": KINDS,
            "notes_kinds": NOTES,
            "kind_labels": KIND_LABELS,
            "note_labels": NOTE_LABELS,
            "trigger_labels": TRIGGERS,
            "state_labels": STATE_LABELS,
            "change_text": change_text,
            "preview_rows": PREVIEW_ROWS,
        }
    )


async def _run(request: web.Request, actor: Actor, dry_run: bool) -> web.Response:
    await form_of(request)  # the CSRF check
    state = request.app[STATE]
    config = state.config.directory
    _ = translator(request)
    if not config.enabled:
        return await render_page(request, status=400, sync_error=_(NOT_ENABLED))
    try:
        result = await sync.run_sync(
            state.db,
            config,
            trigger="manual",
            actor=actor.id,
            node_id=state.nodes.node_id,
            dry_run=dry_run,
            address=actor.address,
        )
    except sync.Busy:
        return await render_page(request, status=409, sync_error=_(BUSY))
    await sync.close_live_sessions(state.broker, result.disabled)
    if result.state != "done":
        return await render_page(request, status=502, sync_error=_(FAILED), sync_detail=result.error)
    plan = result.plan
    assert plan is not None
    return await render_page(request, result=result, plan=plan, dry_run=dry_run)


@page(Action.DIRECTORY)
async def preview(request: web.Request, actor: Actor) -> web.Response:
    return await _run(request, actor, dry_run=True)


@page(Action.DIRECTORY)
async def run(request: web.Request, actor: Actor) -> web.Response:
    return await _run(request, actor, dry_run=False)
