"""Keys under which the application and each request carry the gateway's state and identities."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ..auth.websessions import LoadedSession
from ..state import GatewayState


@dataclass(frozen=True)
class TerminalIdentity:
    """The registered terminal whose certificate this TLS connection presented."""

    id: str
    fingerprint: str


STATE = web.AppKey("state", GatewayState)
TERMINAL = web.RequestKey("terminal", TerminalIdentity)
SESSION = web.RequestKey[LoadedSession | None]("session")  # the documented spelling for a non-class type
