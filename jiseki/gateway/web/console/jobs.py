"""A background job's page (/admin/jobs/{id}): the progress while it runs (polled by app/job.js), then
what it did, the result CSV and, for the importer only and once, the initial passwords CSV.

Only the job's importer or a main administrator (not a delegated one) sees a job; anyone else gets
404, as for a job that does not exist.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from jiseki.i18n import N_

from ... import audit, jobs
from ...db.models import Job
from ...permissions import Action
from ...spreadsheet import csv_text
from ..guards import STATE
from ..render import translator
from .common import Actor, page, render_console
from .imports import ACTION_LABELS, PC_COUNTED, STAFF_COUNTED, change_lines

SHOWN_ROWS = 200  # rows listed on the page (errors first); the result CSV has them all
RESULT_HEADER = ("行", "ログインID", "処理", "結果", "内容")
PASSWORDS_HEADER = ("ログインID", "氏名", "所属", "仮パスワード")
PASSWORDS_GONE = N_("Handed out once, to the importer only; erased after a day. Reset an account's password instead.")
ASSIGNMENT_COUNTED = ("assign", "remove", "unchanged", "error")


async def _job(request: web.Request, actor: Actor) -> Job:
    async with request.app[STATE].db() as s:
        job = await jobs.visible_job(
            s, request.match_info["job_id"], actor.id, actor.role == "admin" and not actor.delegated
        )
    if job is None:
        raise web.HTTPNotFound(text="no such job")
    return job


def _rows(job: Job) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(job.result)["rows"] if job.result else []
    return rows


def _detail(request: web.Request, row: dict[str, Any]) -> str:
    _ = translator(request)
    if row.get("msgid") and row["outcome"] == "error":
        return str(_(row["msgid"], **row.get("values", {})))
    if row.get("after"):
        return " / ".join(change_lines(request, row.get("before") or {}, row["after"]))
    if row.get("values", {}).get("host"):
        return f"{_('PC ID')}: {row['values']['host']}"
    return ""


def _percent(job: Job) -> int:
    return 100 if job.state == "done" or not job.total else min(100, job.done * 100 // job.total)


@page(Action.VIEW)
async def job_page(request: web.Request, actor: Actor) -> web.Response:
    job = await _job(request, actor)
    rows = _rows(job)
    counts = jobs.counts_of(rows)
    keys = {"staff": STAFF_COUNTED, "pcs": PC_COUNTED}.get(job.kind, ASSIGNMENT_COUNTED)
    listed = [r for r in rows if r["outcome"] == "error"] + [
        r for r in rows if r["outcome"] not in ("error", "unchanged")
    ]
    return render_console(
        request,
        "console/job.html",
        job=job,
        percent=_percent(job),
        counts=[(k, counts.get(k, 0)) for k in keys],
        listed=[(r, _detail(request, r)) for r in listed[:SHOWN_ROWS]],
        more=max(0, len(listed) - SHOWN_ROWS),
        action_labels=ACTION_LABELS,
        passwords=job.secret_result is not None and job.actor == actor.id and job.state == "done",
        section="staff" if job.kind == "staff" else "pcs",
    )


@page(Action.VIEW)
async def job_progress(request: web.Request, actor: Actor) -> web.Response:
    job = await _job(request, actor)
    return web.json_response(
        {"state": job.state, "done": job.done, "total": job.total, "percent": _percent(job)},
        headers={"Cache-Control": "no-store"},
    )


@page(Action.VIEW)
async def job_result_csv(request: web.Request, actor: Actor) -> web.Response:
    job = await _job(request, actor)
    _ = translator(request)
    lines: list[tuple[Any, ...]] = [RESULT_HEADER]
    for r in _rows(job):
        result = {"error": _("Error"), "unchanged": _("No change")}.get(r["outcome"], _("Done"))
        action = _(ACTION_LABELS[r["outcome"]]) if r["outcome"] not in ("error", "unchanged") else ""
        lines.append((r["line"], r["id"], action, result, _detail(request, r)))
    return web.Response(
        text=csv_text(lines),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-result-{job.id[:8]}.csv"'},
    )


@page(Action.STAFF_IMPORT)  # a POST that changes something: refused (403, audited) to roles that cannot import
async def job_passwords(request: web.Request, actor: Actor) -> web.Response:
    """POST: the initial passwords, once, to the job's importer (then erased from the database)."""
    state = request.app[STATE]
    job = await _job(request, actor)
    taken = await jobs.take_secret(state.db, state.box, job.id, actor.id)
    if taken is None:
        _ = translator(request)
        return render_console(
            request,
            "console/message.html",
            status=410,
            title=_("The temporary passwords are no longer available."),
            message=_(PASSWORDS_GONE),
        )
    await audit.record(
        state.db, "initial_passwords_taken", "ok", actor=actor.id, address=actor.address, job=job.id, count=len(taken)
    )
    return web.Response(
        text=csv_text([PASSWORDS_HEADER, *taken]),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="initial-passwords.csv"',
            "Cache-Control": "no-store",
        },
    )
