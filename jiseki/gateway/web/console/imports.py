"""CSV imports with a preview: staff accounts (create, update, disable, enable, delete; keyed by
login ID), and assignments of staff to office PCs.

Nothing is imported until the administrator confirms the preview; the confirmation starts a
background job (`gateway.jobs`, its page in `console.jobs`) that re-checks every row against the
database as it applies it (the database may have changed meanwhile) and lists what it did.
A delegated administrator's rows are limited to their 所掌範囲 (`actor.scope`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import web

from jiseki.i18n import N_

from ... import admin, jobs
from ...assignments_csv import parse_assignments_csv
from ...auth.users_csv import CsvFileError, RowError, parse_staff_csv
from ...pcs_csv import parse_pcs_csv
from ...permissions import Action, grantable_roles
from ...staged_imports import stage, take
from ..guards import STATE
from ..render import translator
from .common import Actor, form_of, page, render_console
from .labels import IMPORT_ACTIONS, ROLE_LABELS
from .uploads import uploaded_csv

PREVIEW_OK_ROWS = 200  # valid rows shown in the preview; every error row is shown
PREVIEW_NOTABLE_ROWS = 1000  # staff import: role changes, disables, enables, deletions shown


@dataclass
class PreviewRow:
    line: int
    cells: tuple[str, ...]
    status: str  # ok / unchanged / error
    messages: list[str] = field(default_factory=list)


def _rows(
    request: web.Request,
    ok: Iterable[tuple[int, tuple[str, ...]]],
    errors: list[RowError],
    unchanged: Iterable[tuple[int, tuple[str, ...]]] = (),
) -> list[PreviewRow]:
    _ = translator(request)
    by_line: dict[int, PreviewRow] = {}
    for e in errors:
        row = by_line.setdefault(e.line, PreviewRow(e.line, e.record, "error"))
        row.messages.append(_(e.msgid, **e.values))
    shown = 0
    for status, items in (("ok", ok), ("unchanged", unchanged)):
        for line, cells in items:
            if shown >= PREVIEW_OK_ROWS:
                break
            by_line.setdefault(line, PreviewRow(line, cells, status))
            shown += 1
    return sorted(by_line.values(), key=lambda r: r.line)


def _file_error(request: web.Request, template: str, exc: CsvFileError) -> web.Response:
    _ = translator(request)
    return render_console(request, template, status=400, error=_(exc.msgid, **exc.values))


# ---- staff ------------------------------------------------------------------------------------

ACTION_LABELS = IMPORT_ACTIONS  # what a row does, in the preview, on the job page and in the result CSV
FIELD_LABELS = {
    "name": N_("PC name"),
    "host_group": N_("PC group"),
    "display_name": N_("Name"),
    "reading": N_("Reading"),
    "department": N_("Department"),
    "role": N_("Role"),
    "email": N_("Mail address"),
}
STAFF_COUNTED = ("create", "update", "disable", "enable", "delete", "unchanged", "error")


@dataclass
class StaffPreviewRow:
    line: int
    login_id: str
    action: str
    details: list[str]
    messages: list[str] = field(default_factory=list)


def field_value(request: web.Request, name: str, value: object) -> str:
    _ = translator(request)
    if name == "role" and isinstance(value, str) and value in ROLE_LABELS:
        return _(ROLE_LABELS[value])
    return str(value) if value not in (None, "") else _("(empty)")


def change_lines(request: web.Request, before: dict[str, object], after: dict[str, object]) -> list[str]:
    """ "Department: 総務課 → 人事課" for each changed field (roles by their names, not their codes)."""
    _ = translator(request)
    return [
        f"{_(FIELD_LABELS.get(k, k))}: {field_value(request, k, before.get(k))} → {field_value(request, k, v)}"
        for k, v in after.items()
    ]


def _staff_preview_rows(request: web.Request, plan: admin.StaffPlan) -> tuple[list[StaffPreviewRow], int]:
    """Every error row, and the first rows that change something; (rows, how many not shown)."""
    _ = translator(request)
    by_line: dict[int, StaffPreviewRow] = {}
    for e in plan.errors:
        row = by_line.setdefault(e.line, StaffPreviewRow(e.line, e.record[0] if e.record else "", "error", []))
        row.messages.append(_(e.msgid, **e.values))
    shown = {False: 0, True: 0}
    hidden = 0
    for change in plan.changes:
        if change.action == "unchanged":
            continue
        # Rights and access first: roles given, disables, enables and deletions are listed up to
        # PREVIEW_NOTABLE_ROWS, the plain moves and new accounts up to PREVIEW_OK_ROWS.
        notable = change.action in ("disable", "enable", "delete") or "role" in change.after
        notable = notable or (change.action == "create" and (change.row.role or "staff") != "staff")
        if shown[notable] >= (PREVIEW_NOTABLE_ROWS if notable else PREVIEW_OK_ROWS):
            hidden += 1
            continue
        shown[notable] += 1
        r = change.row
        if change.action == "update":
            details = change_lines(request, change.before, change.after)
        elif change.action == "create":
            details = [r.display_name, r.department or "", field_value(request, "role", r.role or "staff")]
            details = [d for d in details if d]
        else:
            details = []
        by_line[r.line] = StaffPreviewRow(r.line, r.login_id, change.action, details)
    return sorted(by_line.values(), key=lambda r: r.line), hidden


@page(Action.STAFF_IMPORT)
async def staff_form(request: web.Request, actor: Actor) -> web.Response:
    return render_console(request, "console/staff_import.html", error=None)


@page(Action.STAFF_IMPORT)
async def staff_preview(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    try:
        filename, content = uploaded_csv(await form_of(request))
    except CsvFileError as exc:
        return _file_error(request, "console/staff_import.html", exc)
    rows, errors = parse_staff_csv(content)
    async with state.db.begin() as s:
        plan = await admin.plan_staff_rows(
            s, rows, errors, allowed_roles=frozenset(grantable_roles(actor.role, actor.delegated)), scope=actor.scope
        )
        counts = plan.counts()
        changes = sum(n for k, n in counts.items() if k not in ("unchanged", "error"))
        staged_id = await stage(s, "staff", actor.id, filename, content) if changes else None
    preview, hidden = _staff_preview_rows(request, plan)
    return render_console(
        request,
        "console/staff_import_preview.html",
        filename=filename,
        preview=preview,
        counts=[(k, counts[k]) for k in STAFF_COUNTED],
        changes=changes,
        error_lines=counts["error"],
        staged_id=staged_id,
        more_ok=hidden,
        action_labels=ACTION_LABELS,
    )


async def _start_job(request: web.Request, actor: Actor, kind: str) -> web.StreamResponse:
    """Confirmation: the staged file (taken once) becomes a background job; its page shows the progress."""
    state = request.app[STATE]
    async with state.db.begin() as s:
        staged = await take(s, request.match_info["staged_id"], kind, actor.id)
        if staged is None:
            return _expired(request)
        job_id = await jobs.create(s, kind, actor.id, staged.filename, staged.content, address=actor.address)
    await state.jobs.claim_and_start(job_id)
    raise web.HTTPSeeOther(f"/admin/jobs/{job_id}")


@page(Action.STAFF_IMPORT)
async def staff_confirm(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await _start_job(request, actor, "staff")


# ---- assignments ------------------------------------------------------------------------------


@page(Action.ASSIGN)
async def assignments_form(request: web.Request, actor: Actor) -> web.Response:
    return render_console(request, "console/assignments_import.html", error=None)


@page(Action.ASSIGN)
async def assignments_preview(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    try:
        filename, content = uploaded_csv(await form_of(request))
    except CsvFileError as exc:
        return _file_error(request, "console/assignments_import.html", exc)
    rows, errors = parse_assignments_csv(content)
    async with state.db.begin() as s:
        checked = await admin.check_assignments(s, rows, errors, actor.scope)
        staged_id = await stage(s, "assignments", actor.id, filename, content) if checked.valid else None
    preview = _rows(
        request,
        ((r.line, (r.login_id, r.host_id, r.action)) for r in checked.valid),
        checked.errors,
        ((r.line, (r.login_id, r.host_id, r.action)) for r in checked.unchanged),
    )
    return render_console(
        request,
        "console/assignments_import_preview.html",
        filename=filename,
        preview=preview,
        ok_count=len(checked.valid),
        unchanged_count=len(checked.unchanged),
        error_lines=len({e.line for e in checked.errors}),
        staged_id=staged_id,
    )


@page(Action.ASSIGN)
async def assignments_confirm(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await _start_job(request, actor, "assignments")


# ---- office PCs (update mode) ---------------------------------------------------------------------

PC_COUNTED = ("update", "revoke", "unchanged", "error")


@page(Action.PC_IMPORT)
async def pcs_form(request: web.Request, actor: Actor) -> web.Response:
    return render_console(request, "console/pcs_import.html", error=None)


def _pc_preview(request: web.Request, plan: admin.PcPlan) -> tuple[list[PreviewRow], int]:
    """Every error row and the first PREVIEW_OK_ROWS changes; (rows, how many changes not shown)."""
    _ = translator(request)
    by_line: dict[int, PreviewRow] = {}
    for e in plan.errors:
        cells = (e.record[0] if e.record else "", _("Error"), "")
        by_line.setdefault(e.line, PreviewRow(e.line, cells, "error")).messages.append(_(e.msgid, **e.values))
    changes = [c for c in plan.changes if c.action != "unchanged"]
    for c in changes[:PREVIEW_OK_ROWS]:
        details = " / ".join(change_lines(request, c.before, c.after)) if c.after else ""
        by_line[c.row.line] = PreviewRow(c.row.line, (c.row.host_id, _(ACTION_LABELS[c.action]), details), "ok")
    return sorted(by_line.values(), key=lambda r: r.line), max(0, len(changes) - PREVIEW_OK_ROWS)


@page(Action.PC_IMPORT)
async def pcs_preview(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    try:
        filename, content = uploaded_csv(await form_of(request))
    except CsvFileError as exc:
        return _file_error(request, "console/pcs_import.html", exc)
    rows, errors = parse_pcs_csv(content)
    async with state.db.begin() as s:
        plan = await admin.plan_pc_rows(s, rows, errors)
        counts = plan.counts()
        changes = counts["update"] + counts["revoke"]
        staged_id = await stage(s, "pcs", actor.id, filename, content) if changes else None
    preview, hidden = _pc_preview(request, plan)
    return render_console(
        request,
        "console/pcs_import_preview.html",
        filename=filename,
        preview=preview,
        counts=[(k, counts[k]) for k in PC_COUNTED],
        changes=changes,
        error_lines=counts["error"],
        staged_id=staged_id,
        more_ok=hidden,
        action_labels=ACTION_LABELS,
    )


@page(Action.PC_IMPORT)
async def pcs_confirm(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await _start_job(request, actor, "pcs")


def _expired(request: web.Request) -> web.Response:
    _ = translator(request)
    return render_console(
        request,
        "console/message.html",
        status=410,
        title=_("This preview is no longer valid."),
        message=_("It was already imported, or more than an hour has passed. Please upload the file again."),
    )
