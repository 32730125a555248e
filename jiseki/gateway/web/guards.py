"""The layers every request passes, outermost first:

1. network: the source address must be in the allow-list of its route class (staff or agent);
2. device: staff routes need a valid, unrevoked terminal certificate, else "not registered";
3. session: the staff member's web session (if any) is loaded; unsafe methods need the CSRF token.

Handlers then require a login stage with `require_user`.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from jiseki.i18n import pick_language

from .. import audit, terminals
from ..alerts import hooks as alert_hooks
from ..auth import websessions
from ..certs import CertStatus
from ..db.models import utcnow
from ..state import GatewayState
from ..textclean import has_controls
from .keys import SESSION, STATE, TERMINAL, TerminalIdentity
from .render import render, translator
from .security import LANG_COOKIE, peer_certificate_der

__all__ = ["SESSION", "STATE", "TERMINAL", "TerminalIdentity", "make_guards", "require_user"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PRELOGIN_COOKIE = "jiseki_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSAL_RECORD_INTERVAL = 60.0  # seconds between audit records of the same refusal
TERMINAL_SEEN_INTERVAL = 60.0


def route_class(path: str) -> str:
    if path in ("/healthz", "/readyz"):
        return "public"
    if path == "/metrics":
        return "metrics"
    if path.startswith("/act/"):  # the one-click link of a mail: the token is the credential (docs/security.md)
        return "link"
    if path.startswith(("/agent/", "/enroll")) or (path.startswith("/sessions/") and path.endswith("/agent")):
        return "agent"
    return "staff"


class _RateLimitedRecorder:
    """Records a repeated refusal once per interval, so a probing device cannot flood the trail."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, ...], float] = {}

    def due(self, key: tuple[str, ...]) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < REFUSAL_RECORD_INTERVAL:
            return False
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[key] = now
        return True


def _allowed(address: str | None, networks: tuple[str, ...]) -> bool:
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n) for n in networks)


def make_guards(state: GatewayState, body_limits: Mapping[str, int] | None = None) -> list[Middleware]:
    """The middlewares; `body_limits` raises the request size for the few upload routes (by path)."""
    refusals = _RateLimitedRecorder()
    body_limits = dict(body_limits or {})
    terminal_seen: dict[str, float] = {}

    @web.middleware
    async def network_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = route_class(request.path)
        gw = state.config.gateway
        by_kind = {"agent": gw.agent_networks, "staff": gw.staff_networks, "metrics": gw.metrics_networks}
        if not _allowed(request.remote, by_kind.get(kind, ())):
            if refusals.due(("network", request.remote or "")):
                await audit.record(state.db, "network_refused", "denied", address=request.remote, path=request.path)
            raise web.HTTPForbidden(text="forbidden")
        if has_controls(request.path):  # no route or identifier holds one; PostgreSQL cannot even look it up
            raise web.HTTPNotFound()
        return await handler(request)

    @web.middleware
    async def device_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if route_class(request.path) != "staff":
            return await handler(request)
        check = await state.checker.check(peer_certificate_der(request), "terminal")
        if check.status is not CertStatus.OK or check.owner_id is None or check.fingerprint is None:
            if refusals.due(("device", request.remote or "", check.status.value)):
                await audit.record(
                    state.db,
                    "device_refused",
                    "denied",
                    subject=check.owner_id,
                    address=request.remote,
                    reason=check.status.value,
                    user_agent=request.headers.get("User-Agent", "")[:200],
                )
                if check.status is CertStatus.REVOKED:
                    alert_hooks.revoked_terminal(state, check.owner_id, request.remote)
            response = render(request, "not_registered.html", status=403)
            return response
        request[TERMINAL] = TerminalIdentity(check.owner_id, check.fingerprint)
        now = time.monotonic()
        if now - terminal_seen.get(check.owner_id, -1e9) >= TERMINAL_SEEN_INTERVAL:
            terminal_seen[check.owner_id] = now
            async with state.db.begin() as s:
                await terminals.mark_seen(s, check.owner_id, request.remote, utcnow())
        return await handler(request)

    @web.middleware
    async def session_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if route_class(request.path) != "staff":
            return await handler(request)
        terminal: TerminalIdentity = request[TERMINAL]
        limit = body_limits.get(request.path)
        if limit is not None and request.method == "POST":
            request = request.clone(client_max_size=limit)
        async with state.db.begin() as s:
            loaded = await websessions.load(
                s, state.config.auth, request.cookies.get(websessions.COOKIE), terminal.id, utcnow()
            )
        request[SESSION] = loaded
        if request.method in UNSAFE_METHODS and not await _csrf_ok(request, loaded):
            await audit.record(
                state.db,
                "csrf_refused",
                "denied",
                actor=loaded.user.id if loaded else None,
                address=request.remote,
                path=request.path,
            )
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
        response = await handler(request)
        lang = request.query.get("lang")
        if lang and lang == pick_language(lang) and not response.prepared:
            response.set_cookie(LANG_COOKIE, lang, secure=True, httponly=True, samesite="Strict", path="/")
        return response

    return [network_guard, device_guard, session_guard]


async def _csrf_ok(request: web.Request, loaded: websessions.LoadedSession | None) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            _ = translator(request)
            raise web.HTTPRequestEntityTooLarge(
                max_size=request.client_max_size,
                actual_size=request.content_length or 0,
                text=_("The request is too large. Files may be at most 5 MB."),
            ) from None
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    # The login form is shown before any session exists, so it carries the pre-login token.
    if loaded is None or request.path == "/login":
        expected = request.cookies.get(PRELOGIN_COOKIE)
    else:
        expected = loaded.row.csrf_token
    return bool(given and expected and hmac.compare_digest(given.encode(), expected.encode()))


def prelogin_token(request: web.Request) -> str:
    """The CSRF token for forms shown before login (double-submit cookie)."""
    token = request.cookies.get(PRELOGIN_COOKIE)
    if not token or len(token) > 64:
        token = secrets.token_urlsafe(24)
    return token


def set_prelogin_cookie(response: web.StreamResponse, token: str) -> None:
    response.set_cookie(PRELOGIN_COOKIE, token, secure=True, httponly=True, samesite="Strict", path="/")


def set_session_cookie(response: web.StreamResponse, cookie: str) -> None:
    response.set_cookie(websessions.COOKIE, cookie, secure=True, httponly=True, samesite="Strict", path="/")


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(websessions.COOKIE, path="/")


def require_user(request: web.Request, stage: str = websessions.STAGE_FULL) -> websessions.LoadedSession:
    """The logged-in session at `stage`, or a redirect to where the staff member must go next."""
    loaded: websessions.LoadedSession | None = request.get(SESSION)
    if loaded is None:
        raise web.HTTPSeeOther("/login")
    if loaded.row.stage != stage:
        raise web.HTTPSeeOther(_STAGE_PAGES.get(loaded.row.stage, "/login"))
    return loaded


_STAGE_PAGES = {
    websessions.STAGE_FULL: "/",
    websessions.STAGE_ENROLL_TOTP: "/login/totp",
    websessions.STAGE_KEY: "/login/key",
    websessions.STAGE_ENROLL_KEY: "/login/key/setup",
    websessions.STAGE_CHANGE_PASSWORD: "/password",
}
