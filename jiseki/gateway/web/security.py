"""Request guards: security headers on every response, and the access token that stands in
for staff login until the trust issue brings terminal certificates and accounts."""

from __future__ import annotations

import hmac
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from jiseki.i18n import gettext, pick_language

ACCESS_COOKIE = "jiseki_access"
LANG_COOKIE = "jiseki_lang"
# Routes that authenticate by client certificate (agents) or are public probes.
TOKEN_EXEMPT_PREFIXES = ("/agent/", "/healthz")
AGENT_DATA_SUFFIX = "/agent"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: applies to static files and errors too."""
    h = response.headers
    h["Cache-Control"] = "no-store"
    h["Pragma"] = "no-cache"
    h["Content-Security-Policy"] = CSP
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "no-referrer"
    h["Strict-Transport-Security"] = "max-age=31536000"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"


def request_language(request: web.Request) -> str:
    return pick_language(request.query.get("lang") or request.cookies.get(LANG_COOKIE))


def forbidden_page(request: web.Request, msgid: str) -> web.Response:
    lang = request_language(request)
    text = gettext(lang, msgid)
    title = gettext(lang, "Access denied")
    body = (
        f'<!doctype html><html lang="{lang}"><meta charset="utf-8"><title>{title}</title>'
        f"<h1>{title}</h1><p>{text}</p></html>"
    )
    return web.Response(status=403, text=body, content_type="text/html", charset="utf-8")


def token_middleware(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    expected = token.encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(TOKEN_EXEMPT_PREFIXES) or (
            path.startswith("/sessions/") and path.endswith(AGENT_DATA_SUFFIX)
        ):
            return await handler(request)
        given = request.query.get("token")
        if given is not None and hmac.compare_digest(given.encode(), expected):
            # Move the token from the URL into a strict cookie, and drop it from the address bar.
            query = {k: v for k, v in request.query.items() if k != "token"}
            raise _redirect_with_cookie(request.rel_url.with_query(query), token)
        cookie = request.cookies.get(ACCESS_COOKIE)
        if cookie is None or not hmac.compare_digest(cookie.encode(), expected):
            return forbidden_page(request, "A valid access link is required to open this page.")
        response = await handler(request)
        lang = request.query.get("lang")
        if lang and lang == pick_language(lang) and not response.prepared:
            response.set_cookie(LANG_COOKIE, lang, secure=True, httponly=True, samesite="Strict", path="/")
        return response

    return check


def _redirect_with_cookie(location: object, token: str) -> web.HTTPSeeOther:
    exc = web.HTTPSeeOther(location=str(location))
    exc.set_cookie(ACCESS_COOKIE, token, secure=True, httponly=True, samesite="Strict", path="/")
    return exc


def peer_certificate_der(request: web.Request) -> bytes | None:
    """The verified client certificate of this TLS connection, if one was presented."""
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject):
        return None
    return ssl_object.getpeercert(binary_form=True)


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on POST and WebSocket upgrades; refuse cross-site ones."""
    origin = request.headers.get("Origin")
    return origin is not None and origin == f"{request.scheme}://{request.host}"
