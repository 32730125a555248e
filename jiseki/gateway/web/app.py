"""Assemble the aiohttp application from its routes and guards."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from ..state import GatewayState
from . import (
    act_pages,
    assets,
    auth_pages,
    enroll,
    health,
    key_pages,
    pages,
    portal_wake,
    preferences,
    recordings,
    sockets,
    terminal_view,
)
from .console import routes as console
from .guards import STATE, make_guards
from .security import add_security_headers

MAX_REQUEST_BODY = 64 * 1024


def build_app(state: GatewayState) -> web.Application:
    guards = [health.metrics_middleware(), *make_guards(state, console.UPLOAD_LIMITS)]
    app = web.Application(middlewares=guards, client_max_size=MAX_REQUEST_BODY)
    metrics, readyz = health.make_handlers(state)
    app[STATE] = state
    app.on_response_prepare.append(add_security_headers)
    static_dir = resources.files("jiseki.web").joinpath("static")
    app.add_routes(
        [
            web.get("/", pages.my_pcs),
            web.get("/login", auth_pages.login_page),
            web.post("/login", auth_pages.login_submit),
            web.get("/login/totp", auth_pages.totp_page),
            web.post("/login/totp", auth_pages.totp_submit),
            *key_pages.routes(),
            web.get("/password", auth_pages.password_page),
            web.post("/password", auth_pages.password_submit),
            web.post("/logout", auth_pages.logout),
            web.post("/logout/all", auth_pages.logout_everywhere),
            web.post("/language", preferences.set_language),
            web.get("/view/{host_id}", pages.viewer_page),
            web.post("/api/sessions", pages.create_session),
            web.get("/api/hosts/{host_id}/access", pages.session_access),
            web.post("/pcs/{host_id}/wake", portal_wake.request_wake),
            web.get("/pcs/{host_id}/wake", portal_wake.wake_progress),
            web.post("/api/terminal/view", terminal_view.set_terminal_view),
            web.get("/hosts/{host_id}/session", sockets.new_session_socket),
            web.get("/sessions/{session_id}/viewer", sockets.viewer_socket),
            web.get("/sessions/{session_id}/agent", sockets.agent_data_socket),
            web.get("/agent/control", sockets.agent_control_socket),
            web.get("/enroll/ca.pem", enroll.ca_certificate),
            web.post("/enroll", enroll.enroll),
            web.get("/recordings/{session_id}", recordings.player_page),
            web.get("/recordings/{session_id}/data", recordings.recording_data),
            *console.routes(),
            web.get("/healthz", pages.healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics),
            *act_pages.routes(),
            # The same files under an address that changes with them, which the browser may keep.
            web.get(assets.PREFIX + "{version}/{path:.+}", assets.serve),
            web.static("/static", str(static_dir), follow_symlinks=False),
        ]
    )
    return app
