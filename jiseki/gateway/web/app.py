"""Assemble the aiohttp application from its routes and guards."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from ..broker import Broker
from . import pages, sockets
from .security import add_security_headers, token_middleware

MAX_REQUEST_BODY = 64 * 1024


def build_app(broker: Broker, access_token: str) -> web.Application:
    if len(access_token) < 16:
        raise ValueError("the access token must be at least 16 characters")
    app = web.Application(middlewares=[token_middleware(access_token)], client_max_size=MAX_REQUEST_BODY)
    app[sockets.BROKER] = broker
    app.on_response_prepare.append(add_security_headers)
    static_dir = resources.files("jiseki.web").joinpath("static")
    app.add_routes(
        [
            web.get("/", pages.hosts_page),
            web.get("/view/{host_id}", pages.viewer_page),
            web.post("/api/sessions", pages.create_session),
            web.get("/sessions/{session_id}/viewer", sockets.viewer_socket),
            web.get("/sessions/{session_id}/agent", sockets.agent_data_socket),
            web.get("/agent/control", sockets.agent_control_socket),
            web.get("/healthz", pages.healthz),
            # The key table is one file in the protocol package, shared with the viewer.
            web.get("/static/core/keycodes.json", pages.key_table),
            web.static("/static", str(static_dir), follow_symlinks=False),
        ]
    )
    return app
