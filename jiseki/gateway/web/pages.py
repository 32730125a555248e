"""Server-rendered pages (Jinja2) and the small JSON API the viewer uses."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy import select

from jiseki.i18n import gettext

from ..broker import HostUnavailable
from ..db.models import Host
from .security import request_language, same_origin
from .sockets import BROKER

# Texts the viewer script shows, by key; values are catalogue message ids (English).
VIEWER_STRINGS = {
    "connecting": "Connecting…",
    "waiting": "Waiting for the office PC…",
    "connected": "Connected",
    "reconnecting": "Connection lost. Reconnecting in {s} s…",
    "disconnected": "Disconnected",
    "reconnect": "Reconnect",
    "disconnect": "Disconnect",
    "ended.viewer_closed": "You disconnected.",
    "ended.host_disconnected": "The office PC ended the connection.",
    "ended.host_offline": "The office PC is offline.",
    "ended.host_timeout": "The office PC did not answer.",
    "ended.protocol_error": "The connection was ended because of invalid data.",
    "ended.gateway_shutdown": "The gateway is restarting.",
    "ended.unknown_host": "This office PC is not registered.",
    "ended.unknown": "The connection ended.",
    "stats": "{fps} fps · {kbps} kbit/s",
    "fullscreen": "Full screen",
    "fullscreen_exit": "Exit full screen",
    "layout_mismatch": (
        "The keyboard layout of this terminal differs from the office PC's ({layout}). Physical keys type "
        "what the office PC's layout puts on them; if characters come out wrong, switch the keyboard to text."
    ),
    "monitor_all": "All monitors",
    "monitor_n": "Monitor {n} ({w}×{h})",
}


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("jiseki.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    lang = request_language(request)
    html = _env().get_template(template).render(lang=lang, _=lambda msgid: gettext(lang, msgid), **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def hosts_page(request: web.Request) -> web.Response:
    broker = request.app[BROKER]
    async with broker.db() as s:
        hosts = (await s.execute(select(Host).order_by(Host.name))).scalars().all()
    return render(request, "hosts.html", hosts=hosts, online=set(broker.agents))


async def viewer_page(request: web.Request) -> web.Response:
    broker = request.app[BROKER]
    async with broker.db() as s:
        host = await s.get(Host, request.match_info["host_id"])
    if host is None:
        raise web.HTTPNotFound(text=gettext(request_language(request), "This office PC is not registered."))
    lang = request_language(request)
    strings = {key: gettext(lang, msgid) for key, msgid in VIEWER_STRINGS.items()}
    return render(request, "viewer.html", host=host, strings_json=json.dumps(strings, ensure_ascii=False))


def _json_error(status: int, reason: str, request: web.Request, msgid: str) -> web.Response:
    message = gettext(request_language(request), msgid)
    return web.json_response({"error": reason, "message": message}, status=status)


async def create_session(request: web.Request) -> web.Response:
    if not same_origin(request):
        return _json_error(403, "cross_origin", request, "Access denied")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _json_error(400, "bad_request", request, "The request was not understood.")
    host_id = body.get("host_id") if isinstance(body, dict) else None
    if not isinstance(host_id, str) or not 0 < len(host_id) <= 64:
        return _json_error(400, "bad_request", request, "The request was not understood.")
    broker = request.app[BROKER]
    try:
        pending = await broker.create_session(host_id, request.remote)
    except HostUnavailable as exc:
        status = 404 if exc.reason == "unknown_host" else 409
        return _json_error(
            status, exc.reason, request, VIEWER_STRINGS.get(f"ended.{exc.reason}", "The connection ended.")
        )
    return web.json_response({"session": pending.id, "ticket": pending.viewer_ticket}, status=201)


async def key_table(_request: web.Request) -> web.Response:
    text = resources.files("jiseki.protocol").joinpath("keycodes.json").read_text("utf-8")
    return web.Response(text=text, content_type="application/json")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
