"""Response headers, language choice, the TLS peer certificate and origin checks."""

from __future__ import annotations

import ssl

from aiohttp import web

from jiseki.i18n import LANGUAGES, pick_language

from . import assets
from .keys import SESSION

LANG_COOKIE = "jiseki_lang"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: applies to static files and errors too."""
    h = response.headers
    if request.path.startswith(assets.PREFIX) and response.status == 200:
        h["Cache-Control"] = assets.CACHE_CONTROL  # page code under a versioned address, no screen data
    else:
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
    """`?lang=` for this page, else the logged-in user's preference, else the cookie, else Japanese."""
    requested = request.query.get("lang")
    if requested in LANGUAGES:
        return requested
    loaded = request.get(SESSION)
    if loaded is not None and loaded.user.language in LANGUAGES:
        return str(loaded.user.language)
    return pick_language(request.cookies.get(LANG_COOKIE))


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
