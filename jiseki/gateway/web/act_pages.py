"""`/act/<token>`: the one-click link of an alert mail ("this was not me").

GET only shows what the button will do (mail scanners and link previews fetch links: a GET changes
nothing). POST must carry the form field derived from the token, which only the confirmation page
knows; the token itself is in the address, so another site cannot forge the POST without the
secret the mail holds. The link works without a terminal certificate (the mail may be read on a
phone): the 256-bit, single-use, expiring token is the credential (docs/security.md).
"""

from __future__ import annotations

import hmac

from aiohttp import web

from .. import audit
from ..alerts import links
from ..db.models import utcnow
from ..end_reasons import EndReason
from .keys import STATE
from .render import render

MAX_FORM = 1024


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    return token if links.plausible(token) else ""


async def _unusable(request: web.Request, token: str) -> web.Response:
    """The clear page of a link that cannot be used (unknown, used or expired); nothing changes."""
    async with request.app[STATE].db() as s:
        row = await links.find(s, token) if token else None
    if row is None:
        problem = "unknown"
    elif row.used_at is not None:
        problem = "used"
    else:
        problem = "expired"
    return render(request, "act.html", status=410 if row else 404, problem=problem, form_token="", done=False)


async def confirm_page(request: web.Request) -> web.StreamResponse:
    token = _token(request)
    now = utcnow()
    async with request.app[STATE].db() as s:
        row = await links.find(s, token) if token else None
    if row is None or row.used_at is not None or row.expires_at <= now:
        return await _unusable(request, token)
    return render(request, "act.html", problem=None, form_token=links.form_token(token), done=False)


async def act(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    token = _token(request)
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM, actual_size=request.content_length)
    form = await request.post()
    given = form.get("confirm")
    if not token or not isinstance(given, str) or not hmac.compare_digest(given, links.form_token(token)):
        await audit.record(state.db, "action_link", "denied", address=request.remote, reason="bad_form")
        return await _unusable(request, token)
    now = utcnow()
    async with state.db.begin() as s:
        user_id = await links.use(s, token, now)
        if user_id is not None:
            await links.end_and_lock(s, user_id, request.remote, now)
    if user_id is None:
        await audit.record(state.db, "action_link", "denied", address=request.remote, reason="used_or_expired")
        return await _unusable(request, token)
    await state.broker.close_user_sessions(user_id, EndReason.ACCOUNT_DISABLED)
    return render(request, "act.html", problem=None, form_token="", done=True)


def routes() -> list[web.RouteDef]:
    return [web.get("/act/{token}", confirm_page), web.post("/act/{token}", act)]
