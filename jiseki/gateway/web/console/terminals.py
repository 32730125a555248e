"""Registered telework terminals: list, register (PKCS#12 once, or a CSR; or many from a CSV, as one
archive of bundles), reissue, revoke."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from jiseki.i18n import N_

from ... import admin
from ...admin import AdminError
from ...auth.users_csv import CsvFileError
from ...db.models import Terminal
from ...permissions import Action
from ...queries import terminals as queries
from ...staged_imports import stage, take
from ...terminals_csv import MAX_TERMINALS, TerminalRow, bundles_zip, parse_terminals_csv
from ..guards import STATE
from ..render import translator
from .audit_log import view_of
from .common import (
    PAGE_SIZE,
    Actor,
    FormError,
    done_redirect,
    error_text,
    form_of,
    page,
    page_number,
    query_choice,
    query_text,
    render_console,
    text,
)
from .imports import _expired, _rows
from .uploads import uploaded_csv

MAX_CSR = 16 * 1024


def terminal_url(terminal_id: str) -> str:
    return "/admin/terminal/" + quote(terminal_id, safe="")


@page(Action.VIEW_ORGANISATION)
async def terminal_list(request: web.Request, actor: Actor) -> web.Response:
    q = query_text(request, "q")
    status = query_choice(request, "state", queries.STATES)
    async with request.app[STATE].db() as s:
        found = await queries.terminal_page(s, q, status, page_number(request), PAGE_SIZE)
    return render_console(
        request,
        "console/terminal_list.html",
        rows=found.rows,
        paging=found.paging,
        q=q,
        state_filter=status,
        terminal_url=terminal_url,
    )


@page(Action.TERMINAL_MANAGE)
async def new_terminal(request: web.Request, actor: Actor) -> web.Response:
    return render_console(request, "console/terminal_new.html", values={"method": "pkcs12"}, error=None)


def _csr_of(form: MultiDictProxy[Any]) -> bytes:
    field = form.get("csr_file")
    if isinstance(field, FileField):
        data = field.file.read(MAX_CSR + 1)
        if data:
            if len(data) > MAX_CSR:
                raise FormError("csr_file")
            return data
    pasted = form.get("csr_text", "")
    if not isinstance(pasted, str) or len(pasted) > MAX_CSR:
        raise FormError("csr_text")
    return pasted.strip().encode()


async def _issue(
    request: web.Request, actor: Actor, terminal_id: str, name: str, method: str, csr: bytes, reissue: bool
) -> web.Response:
    """Issue and answer with the one-time page: the file travels in this response only."""
    state = request.app[STATE]
    async with state.db.begin() as s:
        if method == "pkcs12":
            bundle = await admin.issue_terminal_pkcs12(
                s,
                state.ca,
                terminal_id,
                name,
                state.terminal_lifetime,
                actor.id,
                reissue=reissue,
                address=actor.address,
            )
            payload, mime, suffix, password = bundle.p12, "application/x-pkcs12", "p12", bundle.password
        else:
            chain = await admin.issue_terminal_csr(
                s,
                state.ca,
                terminal_id,
                name,
                csr,
                state.terminal_lifetime,
                actor.id,
                reissue=reissue,
                address=actor.address,
            )
            payload, mime, suffix, password = chain, "application/x-pem-file", "cer", None
    state.watcher.poke()  # a superseded certificate's connections close now
    return render_console(
        request,
        "console/terminal_issued.html",
        terminal_id=terminal_id,
        name=name,
        method=method,
        password=password,
        filename=f"{terminal_id}.{suffix}",
        download=f"data:{mime};base64,{base64.b64encode(payload).decode()}",
        reissue=reissue,
        terminal_url=terminal_url(terminal_id),
    )


@page(Action.TERMINAL_MANAGE)
async def register_terminal(request: web.Request, actor: Actor) -> web.Response:
    form = await form_of(request)
    values = {
        "terminal_id": text(form, "terminal_id", 64, required=True),
        "name": text(form, "name", 255, required=True),
        "method": text(form, "method", 8, required=True),
    }
    if values["method"] not in ("pkcs12", "csr"):
        raise FormError("method")
    csr = _csr_of(form) if values["method"] == "csr" else b""
    try:
        if values["method"] == "csr" and not csr:
            raise AdminError(N_("Please choose the CSR file or paste it."))
        return await _issue(request, actor, values["terminal_id"], values["name"], values["method"], csr, False)
    except AdminError as exc:
        return render_console(
            request, "console/terminal_new.html", status=400, values=values, error=error_text(request, exc)
        )


async def _terminal(request: web.Request) -> Terminal:
    async with request.app[STATE].db() as s:
        row = await queries.terminal(s, request.match_info["terminal_id"])
    if row is None:
        raise web.HTTPNotFound(text="no such terminal")
    return row


@page(Action.VIEW_ORGANISATION)
async def terminal_page(request: web.Request, actor: Actor) -> web.Response:
    return await _render_terminal(request, actor, await _terminal(request))


async def _render_terminal(
    request: web.Request, actor: Actor, row: Terminal, *, status: int = 200, error: str | None = None
) -> web.Response:
    async with request.app[STATE].db() as s:
        details = await queries.terminal_details(s, row.id, with_events=actor.can(Action.VIEW_AUDIT))
    return render_console(
        request,
        "console/terminal.html",
        status=status,
        terminal=row,
        certificates=details.certificates,
        sessions=details.sessions,
        events=[view_of(e) for e in details.events],
        error=error,
        terminal_url=terminal_url(row.id),
    )


@page(Action.TERMINAL_MANAGE)
async def reissue_terminal(request: web.Request, actor: Actor) -> web.Response:
    row = await _terminal(request)
    form = await form_of(request)
    method = text(form, "method", 8, required=True)
    if method not in ("pkcs12", "csr"):
        raise FormError("method")
    name = text(form, "name", 255) or row.name
    csr = _csr_of(form) if method == "csr" else b""
    try:
        if method == "csr" and not csr:
            raise AdminError(N_("Please choose the CSR file or paste it."))
        return await _issue(request, actor, row.id, name, method, csr, True)
    except AdminError as exc:
        return await _render_terminal(request, actor, row, status=400, error=error_text(request, exc))


@page(Action.TERMINAL_MANAGE)
async def revoke_terminal(request: web.Request, actor: Actor) -> web.Response:
    row = await _terminal(request)
    form = await form_of(request)
    state = request.app[STATE]
    try:
        async with state.db.begin() as s:
            await admin.revoke_terminal(
                s, row.id, text(form, "reason", admin.MAX_REASON), actor.id, address=actor.address
            )
    except AdminError as exc:
        return await _render_terminal(request, actor, row, status=400, error=error_text(request, exc))
    state.watcher.poke()  # close the terminal's live connections now rather than at the next poll
    raise done_redirect(terminal_url(row.id), "revoked")


# ---- many terminals from a CSV -------------------------------------------------------------------

IMPORT_PATH = "/admin/terminals/import"


def _preview_cells(row: TerminalRow, auto: str) -> tuple[str, ...]:
    return (row.terminal_id or auto, row.name, row.note)


def _import_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    return render_console(request, "console/terminal_import.html", status=status, error=error, limit=MAX_TERMINALS)


@page(Action.TERMINAL_MANAGE)
async def import_form(request: web.Request, actor: Actor) -> web.Response:
    return _import_page(request)


@page(Action.TERMINAL_MANAGE)
async def import_preview(request: web.Request, actor: Actor) -> web.Response:
    state = request.app[STATE]
    try:
        filename, content = uploaded_csv(await form_of(request))
    except CsvFileError as exc:
        return _import_page(request, 400, translator(request)(exc.msgid, **exc.values))
    rows, errors = parse_terminals_csv(content)
    async with state.db.begin() as s:
        good, errors = await admin.check_new_terminals(s, rows, errors)
        staged_id = await stage(s, "terminals", actor.id, filename, content) if good else None
    auto = translator(request)("(made when registered)")
    return render_console(
        request,
        "console/terminal_import_preview.html",
        filename=filename,
        preview=_rows(request, ((r.line, _preview_cells(r, auto)) for r in good), errors),
        ok_count=len(good),
        error_lines=len({e.line for e in errors}),
        staged_id=staged_id,
    )


@page(Action.TERMINAL_MANAGE)
async def import_confirm(request: web.Request, actor: Actor) -> web.Response:
    """Register the valid rows and hand back one archive of their bundles with the passwords: made in
    this request, offered on this page only, never stored."""
    state = request.app[STATE]
    async with state.db.begin() as s:
        staged = await take(s, request.match_info["staged_id"], "terminals", actor.id)
    if staged is None:
        return _expired(request)
    rows, errors = parse_terminals_csv(staged.content)
    async with state.db() as s:  # checked again: terminals may have been registered meanwhile
        rows, errors = await admin.check_new_terminals(s, rows, errors)
    # The keys and bundles are made outside the transaction, so that the database is not held.
    made = await asyncio.to_thread(admin.make_terminal_bundles, state.ca, rows, state.terminal_lifetime)
    try:
        async with state.db.begin() as s:
            await admin.register_terminals_pkcs12(s, made, actor.id, filename=staged.filename, address=actor.address)
    except AdminError as exc:
        return _import_page(request, 409, error_text(request, exc))
    registered = [(row, bundle) for row, _issued, bundle in made]
    archive = bundles_zip(registered) if registered else b""
    return render_console(
        request,
        "console/terminal_import_done.html",
        filename=staged.filename,
        count=len(registered),
        preview=_rows(request, (), errors),
        download="data:application/zip;base64," + base64.b64encode(archive).decode() if registered else None,
        archive_name=f"terminals-{len(registered)}.zip",
    )
