"""CSV imports with a preview: staff accounts, and assignments of staff to office PCs.

Nothing is imported until the administrator confirms the preview; then only the valid rows are
imported, and the rows with errors are listed again (to correct and upload once more). The file
is re-read and re-checked at confirmation, since the database may have changed meanwhile.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import web

from ... import admin
from ...assignments_csv import parse_assignments_csv
from ...auth.users_csv import CsvFileError, RowError, initial_passwords_csv, parse_staff_csv
from ...staged_imports import stage, take
from ..guards import STATE
from ..render import translator
from .common import Actor, form_of, page, render_console
from .permissions import Action, grantable_roles
from .uploads import uploaded_csv

PREVIEW_OK_ROWS = 200  # valid rows shown in the preview; every error row is shown


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
        good, errors = await admin.check_staff_rows(s, rows, errors, frozenset(grantable_roles(actor.role)))
        staged_id = await stage(s, "staff", actor.id, filename, content) if good else None
    preview = _rows(request, ((r.line, (r.login_id, r.display_name, r.department, r.role)) for r in good), errors)
    return render_console(
        request,
        "console/staff_import_preview.html",
        filename=filename,
        preview=preview,
        ok_count=len(good),
        error_lines=len({e.line for e in errors}),
        staged_id=staged_id,
        more_ok=max(0, len(good) - PREVIEW_OK_ROWS),
    )


def passwords_csv(created: list[tuple[str, str]]) -> str:
    """The initial passwords as a data: URL (UTF-8 with BOM, so Excel reads it); never stored."""
    data = initial_passwords_csv(created).encode()
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(data).decode()


@page(Action.STAFF_IMPORT)
async def staff_confirm(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    async with state.db.begin() as s:
        staged = await take(s, request.match_info["staged_id"], "staff", actor.id)
    if staged is None:
        return _expired(request)
    rows, errors = parse_staff_csv(staged.content)
    async with state.db.begin() as s:
        result = await admin.import_users(
            s, rows, errors, actor.id, address=actor.address, allowed_roles=frozenset(grantable_roles(actor.role))
        )
    return render_console(
        request,
        "console/staff_import_done.html",
        filename=staged.filename,
        created=result.created,
        preview=_rows(request, (), result.errors),
        download=passwords_csv(result.created) if result.created else None,
    )


def _expired(request: web.Request) -> web.Response:
    _ = translator(request)
    return render_console(
        request,
        "console/message.html",
        status=410,
        title=_("This preview is no longer valid."),
        message=_("It was already imported, or more than an hour has passed. Please upload the file again."),
    )


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
        checked = await admin.check_assignments(s, rows, errors)
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
async def assignments_confirm(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    async with state.db.begin() as s:
        staged = await take(s, request.match_info["staged_id"], "assignments", actor.id)
    if staged is None:
        return _expired(request)
    rows, errors = parse_assignments_csv(staged.content)
    async with state.db.begin() as s:
        result = await admin.import_assignments(s, rows, errors, actor.id, address=actor.address)
    return render_console(
        request,
        "console/assignments_import_done.html",
        filename=staged.filename,
        changed=len(result.valid),
        unchanged=len(result.unchanged),
        preview=_rows(request, (), result.errors),
    )
