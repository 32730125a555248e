"""The staff portal: my office PCs, the viewer page and the session API it calls."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import cache
from importlib import resources

from aiohttp import web

from jiseki.i18n import DEFAULT_LANGUAGE, format_jst

from .. import access, diagnosis, session_request
from ..alerts import hooks as alert_hooks
from ..db.models import Host, utcnow
from ..end_reasons import EndReason
from ..queries import portal
from ..session_request import Denied, Granted
from .guards import SESSION, STATE, TERMINAL, TerminalIdentity, require_user
from .policy_labels import day_time_text, source_text
from .render import render, translator
from .security import request_language, same_origin

# Texts the viewer script shows, by key; values are catalogue message ids (English).
VIEWER_STRINGS = {
    "connecting": "Connecting…",
    "waiting": "Waiting for the office PC…",
    "connected": "Connected",
    "reconnecting": "Connection lost. Reconnecting in {s} s…",
    "disconnected": "Disconnected",
    "reconnect": "Reconnect",
    "resuming": "The connection was interrupted. Resuming the same session…",
    "disconnect": "Disconnect",
    "ended.viewer_closed": "You disconnected.",
    "ended.host_disconnected": "The office PC ended the connection.",
    "ended.host_offline": "The office PC is offline.",
    "ended.host_timeout": "The office PC did not answer.",
    "ended.protocol_error": "The connection was ended because of invalid data.",
    "ended.gateway_shutdown": "The gateway is restarting.",
    "ended.unknown_host": "This office PC is not registered.",
    "ended.unknown": "The connection ended.",
    "ended.certificate_revoked": "This terminal's certificate was revoked.",
    "ended.logged_out": "You logged out.",
    "ended.login_required": "Please log in again.",
    "ended.idle": "The connection ended because there was no input for a while.",
    "ended.max_length": "The connection reached its maximum length.",
    "ended.hours": "The connection ended at the end of the allowed hours.",
    "ended.days": "Connections are not allowed on this day.",
    "ended.holiday": "Connections are not allowed on national holidays.",
    "ended.closed_day": "Connections are not allowed on closed days.",
    "ended.takeover": "The connection was taken over by a newer login to this office PC.",
    "ended.admin": "An administrator ended the connection. The reason is shown on My office PCs.",
    "ended.network": "The connection was lost and could not be resumed.",
    "ended.policy_change": "The connection ended because the rules for this office PC changed.",
    "ended.in_use": "This office PC is in use in another session.",
    "ended.account_disabled": "This account was disabled. Please contact the helpdesk.",
    "ended.not_connected": "The connection was not opened in time.",
    "ended.login_expired": "Your login expired. Please log in again.",
    "ended.password_changed": "The password of this account was changed. Please log in again.",
    "ended.login": "Log in again",
    "refused": "You cannot connect to this office PC now",
    "warning.idle": "No input: the connection will end in {s} s. Move the mouse to stay connected.",
    "warning.max_length": "The connection reaches its maximum length in {s} s.",
    "warning.hours": "The allowed hours end: the connection will end in {s} s.",
    "watermark": "{user} · {terminal} · {time}",
    "stats": "{fps} fps · {kbps} kbit/s",
    "fullscreen": "Full screen",
    "fullscreen_exit": "Exit full screen",
    "layout_mismatch": (
        "The office PC's keyboard layout is {layout}, which differs from this terminal's. Physical keys type "
        "what the office PC's layout puts on them; if characters come out wrong, switch the keyboard to text."
    ),
    "layout.jp": "Japanese (JIS)",
    "layout.us": "English (US)",
    "layout.gb": "English (UK)",
    "layout.de": "German",
    "layout.fr": "French",
    "layout.kr": "Korean",
    "text_removed": (
        "Characters that cannot be typed on the office PC were left out ({chars}): controls such as those "
        "that change the direction of text. The rest was sent."
    ),
    "monitor_all": "All monitors",
    "monitor_n": "Monitor {n} ({w}×{h})",
}


def host_state(host: Host, in_use: bool) -> str:
    """offline / in_use / locked / online, in that order of precedence."""
    if not host.online:
        return "offline"
    if in_use:
        return "in_use"
    return "locked" if host.locked else "online"


async def my_pcs(request: web.Request) -> web.Response:
    """The staff member's PCs with their state; from the database, so any gateway node answers alike."""
    state = request.app[STATE]
    loaded = require_user(request)
    now = utcnow()
    async with state.db() as s:
        mine = await portal.my_pcs(s, loaded.user.id, now)
    names = {h.id: h.name for h in mine.hosts}
    template = "_portal_hosts.html" if request.query.get("fragment") else "portal.html"
    _ = translator(request)
    lang = request_language(request)
    return render(
        request,
        template,
        hosts=mine.hosts,
        states={h.id: host_state(h, h.id in mine.in_use) for h in mine.hosts},
        refusals={hid: refusal_text(_, r, lang) for hid, r in mine.refusals.items() if r is not None},
        reasons={hid: " ".join(finding_text(_, f, lang, staff=True) for f in fs) for hid, fs in mine.reasons.items()},
        notices=[(n, names.get(n.host_id, n.host_id)) for n in mine.notices],
        wakeable=mine.wakeable,
        now=now,
    )


def refusal_text(_: Callable[..., str], refusal: access.Refusal, lang: str = DEFAULT_LANGUAGE) -> str:
    """Why connecting is not allowed now, and from when it is, in the reader's language."""
    if refusal.reason == EndReason.ADMIN:
        text = _(refusal.msgid)
    elif refusal.day is not None:  # a national holiday or closed day: named, and the next time with its weekday
        text = _(refusal.msgid, date=f"{refusal.day.day.month}/{refusal.day.day.day}", name=refusal.day.name)
        if refusal.until is not None:
            text = _(access.UNTIL_DAY, refusal=text, time=day_time_text(_, refusal.until))
        return text
    else:
        text = _(refusal.msgid, policy=source_text(_, refusal.policy or ""))
    if refusal.until is not None:
        text += " " + _(access.UNTIL, time=format_jst(refusal.until, lang=lang))
    return text


def finding_text(
    _: Callable[..., str], finding: diagnosis.Finding, lang: str = DEFAULT_LANGUAGE, *, staff: bool = False
) -> str:
    """A diagnosis finding as the helpdesk (or, `staff`, the staff member) reads it, its times in Japan
    time; a rule's refusal adds `refusal_text`, so that My office PCs and the helpdesk's page agree."""
    values = {k: _value(_, k, v, lang) for k, v in finding.params.items()}
    msgid = finding.staff if staff else finding.msgid
    text = str(_(msgid, **values)) if msgid else ""
    if finding.refusal is not None:
        text = (text + " " if text else "") + refusal_text(_, finding.refusal, lang)
    return text


def _value(_: Callable[..., str], key: str, value: object, lang: str) -> object:
    if isinstance(value, dt.datetime):
        return format_jst(value, lang=lang)
    if key == "factor":  # a catalogue id
        return _(str(value))
    if key == "policy":  # the policy that decided, named as the policies page names it
        return source_text(_, str(value))
    return value


def _refusal_body(request: web.Request, refusal: access.Refusal) -> dict[str, object]:
    return {
        "allowed": False,
        "error": refusal.reason,
        "message": refusal_text(translator(request), refusal, request_language(request)),
        "until": refusal.until.isoformat() if refusal.until else None,
    }


def error_body(request: web.Request, reason: str, msgid: str) -> dict[str, object]:
    """`{error, message}`: a reason key and what to tell the staff member, in their language."""
    return {"error": reason, "message": translator(request)(msgid)}


def denied_body(request: web.Request, denied: Denied) -> dict[str, object]:
    """A refused session request's answer; a rule's refusal says until when (the portal and end
    screen show it)."""
    if denied.refusal is not None:
        return _refusal_body(request, denied.refusal)
    return error_body(request, denied.reason, denied.msgid)


async def viewer_page(request: web.Request) -> web.Response:
    loaded = require_user(request)
    state = request.app[STATE]
    terminal_id = request[TERMINAL].id
    async with state.db() as s:
        setup = await portal.viewer_setup(s, loaded.user.id, request.match_info["host_id"], terminal_id)
    if setup is None:
        raise web.HTTPNotFound(text=translator(request)(session_request.NOT_REGISTERED))
    host, policy, terminal = setup.host, setup.policy, setup.terminal
    watermark = (
        {"user": loaded.user.id, "terminal": terminal.name if terminal else terminal_id} if policy.watermark else None
    )
    _ = translator(request)
    strings = {key: _(msgid) for key, msgid in VIEWER_STRINGS.items()}
    # "<" escaped so that no translation can end the <script> element it is embedded in.
    strings_json = json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c")
    return render(
        request,
        "viewer.html",
        host=host,
        zoom=(terminal.view_zoom if terminal else None) or "fit",
        layout_told=(terminal.layout_told if terminal else None) or "",
        strings_json=strings_json,
        keycodes_json=_keycodes_json(),
        watermark=watermark,
        clipboard=policy.session_clipboard,  # the page offers only what the session allows
        resume_grace=state.config.gateway.resume_grace_seconds,
        final_reasons=" ".join(sorted(EndReason.FINAL)),
    )


def _json_error(status: int, reason: str, request: web.Request, msgid: str) -> web.Response:
    return web.json_response(error_body(request, reason, msgid), status=status)


async def ask_for_session(request: web.Request, user_id: str, host_id: str) -> Granted | Denied:
    """A session for `user_id` at this request's terminal (POST /api/sessions and the viewer's socket)."""
    state = request.app[STATE]
    terminal: TerminalIdentity = request[TERMINAL]
    return await session_request.request_session(
        state.db,
        state.broker,
        user_id=user_id,
        host_id=host_id,
        terminal_id=terminal.id,
        terminal_fingerprint=terminal.fingerprint,
        address=request.remote,
    )


async def create_session(request: web.Request) -> web.Response:
    loaded = request.get(SESSION)
    if loaded is None or loaded.row.stage != "full":
        return _json_error(401, "login_required", request, "Please log in again.")
    if not same_origin(request):
        return _json_error(403, "cross_origin", request, "Access denied")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _json_error(400, "bad_request", request, "The request was not understood.")
    host_id = body.get("host_id") if isinstance(body, dict) else None
    if not isinstance(host_id, str) or not 0 < len(host_id) <= 64:
        return _json_error(400, "bad_request", request, "The request was not understood.")
    answer = await ask_for_session(request, loaded.user.id, host_id)
    if isinstance(answer, Denied):
        return web.json_response(denied_body(request, answer), status=answer.status)
    pending = answer.pending
    alert_hooks.session_started(request.app[STATE], loaded.user.id, host_id, pending.id)
    return web.json_response(
        {"session": pending.id, "ticket": pending.viewer_ticket, "resume": pending.resume_token}, status=201
    )


async def session_access(request: web.Request) -> web.Response:
    """Whether a new session to this PC would be allowed now (the viewer's end screen asks)."""
    loaded = request.get(SESSION)
    if loaded is None or loaded.row.stage != "full":
        return _json_error(401, "login_required", request, "Please log in again.")
    async with request.app[STATE].db() as s:
        denied, _policy = await session_request.check(s, loaded.user.id, request.match_info["host_id"], utcnow())
    if denied is None:
        return web.json_response({"allowed": True})
    if denied.refusal is not None:  # a rule's refusal is this question's answer, not a failed request
        return web.json_response(denied_body(request, denied))
    return web.json_response(denied_body(request, denied), status=denied.status)


@cache
def _keycodes_json() -> str:
    """The key table shared with the protocol package, for the viewer page to embed."""
    doc = json.loads(resources.files("jiseki.protocol").joinpath("keycodes.json").read_text("utf-8"))
    return json.dumps(doc, separators=(",", ":")).replace("<", "\\u003c")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
