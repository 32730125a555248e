"""Session life on one gateway node: agents online, session requests, one-time tickets, pairing.

requested (viewer asked) -> offered (agent told over its control channel) -> live (both sockets
paired) -> ended (with a reason). Database writes record every step; the live sockets stay here.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker

from jiseki.protocol import Status, StatusCode, encode

from .db.models import Host, Session, utcnow
from .policy import Effective

log = logging.getLogger(__name__)

AGENT_TICKET_TTL = 30.0  # seconds an agent has to answer an offer


class EndReason:
    """Reason keys stored with each ended session and shown (translated) to the user."""

    VIEWER_CLOSED = "viewer_closed"
    HOST_DISCONNECTED = "host_disconnected"
    HOST_OFFLINE = "host_offline"
    HOST_TIMEOUT = "host_timeout"
    PROTOCOL_ERROR = "protocol_error"
    GATEWAY_SHUTDOWN = "gateway_shutdown"
    CERTIFICATE_REVOKED = "certificate_revoked"
    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    MAX_LENGTH = "max_length"
    HOURS = "hours"
    TAKEOVER = "takeover"
    ADMIN = "admin"
    NETWORK = "network"
    POLICY_CHANGE = "policy_change"
    IN_USE = "in_use"


class HostUnavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class AgentLink:
    host_id: str
    ws: web.WebSocketResponse
    fingerprint: str
    info: dict[str, Any] = field(default_factory=dict)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message, separators=(",", ":")))


@dataclass
class PendingSession:
    """A session from its request until it ends; the ticket binds user, terminal and host."""

    id: str
    host_id: str
    user_id: str
    terminal_id: str
    terminal_fingerprint: str
    viewer_ticket: str
    agent_ticket: str
    ticket_ttl: float
    created: float = field(default_factory=time.monotonic)
    viewer_claimed: bool = False
    agent_fingerprint: str | None = None
    viewer_socket: web.WebSocketResponse | None = None
    policy: Effective | None = None
    forced_reason: str | None = None  # set when the gateway ends the session (revocation, logout)
    agent_socket: asyncio.Future[web.WebSocketResponse] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # set when the session has ended

    def expired(self, ttl: float) -> bool:
        return time.monotonic() - self.created > ttl


def _ticket_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class Broker:
    def __init__(self, db: async_sessionmaker, ticket_seconds: float = 15.0) -> None:  # type: ignore[type-arg]
        self.db = db
        self.ticket_seconds = ticket_seconds
        self.agents: dict[str, AgentLink] = {}
        self.pending: dict[str, PendingSession] = {}
        self.live: dict[str, PendingSession] = {}

    # ---- agents -------------------------------------------------------------------------

    async def agent_online(self, link: AgentLink) -> None:
        old = self.agents.get(link.host_id)
        self.agents[link.host_id] = link
        if old is not None and old.ws is not link.ws:
            await old.ws.close(code=4000, message=b"replaced by a newer connection")
        async with self.db.begin() as s:
            values: dict[str, Any] = {"online": True, "last_seen": utcnow()}
            for key in ("hostname", "os"):
                if isinstance(link.info.get(key), str):
                    values[key] = link.info[key][:255]
            await s.execute(update(Host).where(Host.id == link.host_id).values(**values))

    async def agent_seen(self, host_id: str) -> None:
        async with self.db.begin() as s:
            await s.execute(update(Host).where(Host.id == host_id).values(last_seen=utcnow()))

    async def agent_offline(self, link: AgentLink) -> None:
        if self.agents.get(link.host_id) is not link:
            return  # a newer connection already replaced this one
        del self.agents[link.host_id]
        async with self.db.begin() as s:
            await s.execute(update(Host).where(Host.id == link.host_id).values(online=False, last_seen=utcnow()))

    # ---- sessions -----------------------------------------------------------------------

    async def create_session(
        self,
        host_id: str,
        user_id: str,
        terminal_id: str,
        terminal_fingerprint: str,
        viewer_address: str | None,
        policy: Effective | None = None,
    ) -> PendingSession:
        """The caller has checked that `user_id` may use `host_id` now. One live session per PC:
        a second one is refused or takes over, as the policy says."""
        self._expire()
        current = [p for p in (*self.live.values(), *self.pending.values()) if p.host_id == host_id]
        if current:
            if policy is None or policy.conflict == "refuse":
                raise HostUnavailable(EndReason.IN_USE)
            for other in current:
                await self.close_session(other, EndReason.TAKEOVER)
        async with self.db() as s:
            host = await s.get(Host, host_id)
        if host is None:
            raise HostUnavailable("unknown_host")
        if host_id not in self.agents:
            raise HostUnavailable(EndReason.HOST_OFFLINE)
        pending = PendingSession(
            id=secrets.token_hex(16),
            host_id=host_id,
            user_id=user_id,
            terminal_id=terminal_id,
            terminal_fingerprint=terminal_fingerprint,
            viewer_ticket=secrets.token_urlsafe(32),
            agent_ticket=secrets.token_urlsafe(32),
            ticket_ttl=self.ticket_seconds,
            policy=policy,
        )
        self.pending[pending.id] = pending
        async with self.db.begin() as s:
            s.add(
                Session(
                    id=pending.id,
                    host_id=host_id,
                    state="requested",
                    viewer_address=viewer_address,
                    user_id=user_id,
                    terminal_id=terminal_id,
                )
            )
        return pending

    def claim_viewer(
        self, session_id: str, ticket: str | None, user_id: str, terminal_id: str
    ) -> PendingSession | None:
        """The viewer's ticket works once, within the ticket time, for the same user and terminal."""
        pending = self.pending.get(session_id)
        if pending is None or pending.viewer_claimed or pending.expired(pending.ticket_ttl):
            return None
        if pending.user_id != user_id or pending.terminal_id != terminal_id:
            return None
        if not _ticket_ok(pending.viewer_ticket, ticket):
            return None
        pending.viewer_claimed = True
        return pending

    async def offer(self, pending: PendingSession) -> None:
        link = self.agents.get(pending.host_id)
        if link is None:
            raise HostUnavailable(EndReason.HOST_OFFLINE)
        await link.send(
            {
                "policy": pending.policy.for_agent() if pending.policy is not None else {},
                "type": "offer",
                "session": pending.id,
                "ticket": pending.agent_ticket,
                "path": f"/sessions/{pending.id}/agent",
            }
        )

    def claim_agent(self, session_id: str, ticket: str | None, host_id: str, fingerprint: str) -> PendingSession | None:
        pending = self.pending.get(session_id)
        if pending is None or pending.host_id != host_id or pending.agent_socket.done():
            return None
        if pending.expired(AGENT_TICKET_TTL) or not _ticket_ok(pending.agent_ticket, ticket):
            return None
        pending.agent_fingerprint = fingerprint
        return pending

    async def mark_live(self, pending: PendingSession) -> None:
        self.pending.pop(pending.id, None)
        self.live[pending.id] = pending
        async with self.db.begin() as s:
            await s.execute(update(Session).where(Session.id == pending.id).values(state="live", started_at=utcnow()))

    async def end(self, session_id: str, reason: str, to_viewer: int = 0, to_agent: int = 0, updates: int = 0) -> None:
        pending = self.pending.pop(session_id, None) or self.live.pop(session_id, None)
        if pending is not None:
            if not pending.agent_socket.done():
                pending.agent_socket.cancel()
            pending.finished.set()
        async with self.db.begin() as s:
            await s.execute(
                update(Session)
                .where(Session.id == session_id, Session.state != "ended")
                .values(
                    state="ended",
                    ended_at=utcnow(),
                    end_reason=reason,
                    bytes_to_viewer=to_viewer,
                    bytes_to_agent=to_agent,
                    updates=updates,
                )
            )
        log.info("session %s ended: %s (%d bytes to viewer)", session_id, reason, to_viewer)

    def _expire(self) -> None:
        for sid in [sid for sid, p in self.pending.items() if p.expired(p.ticket_ttl) and not p.viewer_claimed]:
            self.pending.pop(sid, None)

    async def close_for_fingerprint(self, fingerprint: str) -> None:
        """A certificate was revoked: drop the agent's control channel and every session using it."""
        for link in [link for link in self.agents.values() if link.fingerprint == fingerprint]:
            await link.ws.close(code=4003, message=b"certificate revoked")
        for pending in list(self.live.values()) + list(self.pending.values()):
            if fingerprint in (pending.terminal_fingerprint, pending.agent_fingerprint):
                await self.close_session(pending, EndReason.CERTIFICATE_REVOKED)

    async def close_user_sessions(self, user_id: str, reason: str) -> None:
        for pending in list(self.live.values()) + list(self.pending.values()):
            if pending.user_id == user_id:
                await self.close_session(pending, reason)

    async def close_session(self, pending: PendingSession, reason: str) -> None:
        """End a session from outside the relay; the relay sees its sockets close and records `reason`."""
        pending.forced_reason = reason
        viewer = pending.viewer_socket
        if viewer is not None and not viewer.closed:
            try:
                await viewer.send_bytes(encode(Status(StatusCode.SESSION_ENDED, reason)))  # the viewer says why
            except (ConnectionError, RuntimeError):
                pass
            await viewer.close(code=4003, message=reason.encode())
        elif not pending.agent_socket.done():
            pending.agent_socket.cancel()

    async def end_all_sessions_at_startup(self) -> None:
        """A restarted node holds no sockets: sessions it left open are over."""
        async with self.db.begin() as s:
            await s.execute(
                update(Session)
                .where(Session.state != "ended")
                .values(state="ended", ended_at=utcnow(), end_reason=EndReason.GATEWAY_SHUTDOWN)
            )
            await s.execute(update(Host).values(online=False))
