"""The helpdesk's 「接続できない理由を調べる」 page: every reason a person's connection fails now."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from jiseki.i18n import N_, format_jst

from ... import diagnosis
from ...auth.accounts import valid_login_id
from ...db.models import utcnow
from ...hosts import valid_host_id
from ...permissions import Action, may_act_on_account
from ..guards import STATE
from ..pages import finding_text
from ..render import translator
from ..security import request_language
from .common import Actor, OutOfScope, page, query_text, render_console
from .pcs import NO_PC, pc_url
from .staff import NO_ACCOUNT, account_url

SEVERITY_LABELS = {
    diagnosis.BLOCKING: N_("Cannot connect"),
    diagnosis.WARNING: N_("Attention"),
    diagnosis.INFO: N_("Information"),
    diagnosis.OK: N_("No problem"),
}
SEVERITY_ICONS = {diagnosis.BLOCKING: "✖", diagnosis.WARNING: "⚠", diagnosis.INFO: "ℹ", diagnosis.OK: "✔"}


def diagnose_url(login_id: str, host_id: str | None = None) -> str:
    params = {"user": login_id, **({"pc": host_id} if host_id else {})}
    return "/admin/diagnose?" + urlencode(params)


def describe(request: web.Request, finding: diagnosis.Finding, staff: bool = False) -> str:
    return finding_text(translator(request), finding, request_language(request), staff=staff)


@page(Action.VIEW)
async def diagnose_page(request: web.Request, actor: Actor) -> web.Response:
    login_id = query_text(request, "user", 64)
    host_id = query_text(request, "pc", 64) or None
    context: dict[str, Any] = {"login_id": login_id, "host_id": host_id or "", "findings": None}
    if login_id:
        if not valid_login_id(login_id):
            raise web.HTTPNotFound(text=NO_ACCOUNT)
        if host_id is not None and not valid_host_id(host_id):
            raise web.HTTPNotFound(text=NO_PC)
        state = request.app[STATE]
        async with state.db() as s:
            if not await actor.scope.has_user(s, login_id):
                if actor.delegated and await diagnosis.person(s, login_id) is not None:
                    raise OutOfScope(Action.VIEW, NO_ACCOUNT)
                raise web.HTTPNotFound(text=NO_ACCOUNT)
            if host_id is not None and not await actor.scope.has_host(s, host_id):
                if actor.delegated and await diagnosis.pc_exists(s, host_id):
                    raise OutOfScope(Action.VIEW, NO_PC)
                raise web.HTTPNotFound(text=NO_PC)
            user = await diagnosis.person(s, login_id)
            assert user is not None
            findings = await diagnosis.diagnose(s, state.config.directory, login_id, host_id, utcnow(), actor.scope)
        context.update(
            findings=findings,
            person=user,
            account_url=account_url(login_id),
            pc_url=pc_url,
            may_unlock=may_act_on_account(actor.role, Action.STAFF_CREDENTIALS, user.role, actor.delegated),
            may_enable=may_act_on_account(actor.role, Action.STAFF_DISABLE, user.role, actor.delegated),
            may_wake=actor.role in ("admin", "helpdesk"),  # 電源オン (h19-wol's route): not the auditor's
            now_text=format_jst(utcnow(), lang=request_language(request)),
            describe=lambda f, staff=False: describe(request, f, staff),
        )
    return render_console(
        request,
        "console/diagnose.html",
        severity_labels=SEVERITY_LABELS,
        severity_icons=SEVERITY_ICONS,
        **context,
    )
