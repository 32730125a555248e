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
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.protocol import ProtocolError
from jiseki.protocol.close_codes import CloseCode
from jiseki.protocol.control import (
    AgentHello,
    AgentState,
    ControlMessage,
    Offer,
    Sender,
    Wake,
    WakeDone,
    from_object,
    serialise,
    to_object,
)

from .db.models import Host, Session, utcnow
from .end_reasons import EndReason
from .policy import Effective
from .signaling import LocalSignaling, Signaling

if TYPE_CHECKING:
    from .rules import SessionRules
    from .session_machine import RelayStats

log = logging.getLogger(__name__)

AGENT_TICKET_TTL = 30.0  # seconds an agent has to answer an offer
WAKE_ANSWER_SECONDS = 5.0  # a relay agent's answer to a wake


class HostUnavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class AgentLink:
    host_id: str
    ws: web.WebSocketResponse
    fingerprint: str
    hello: AgentHello = field(default_factory=AgentHello)

    async def send(self, message: ControlMessage) -> None:
        await self.ws.send_str(serialise(message))


Socket = tuple[web.WebSocketResponse, asyncio.Event]


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
    forced_reason: str | None = None  # the first reason the gateway ended it for (revocation, logout, a rule)
    viewer_address: str | None = None
    resume_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Sockets attached to the session (the first one and any that resume it), each with the event
    # that lets its handler return once the session is done with it.
    viewers: asyncio.Queue[Socket | None] = field(default_factory=lambda: asyncio.Queue(1))
    agents: asyncio.Queue[Socket | None] = field(default_factory=lambda: asyncio.Queue(1))
    agent_claimed: bool = False
    agent_ws: web.WebSocketResponse | None = None
    stats: RelayStats | None = None  # byte counters while live, for the console's list
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # set when the session has ended
    # The web session (hashed id) whose viewer socket runs the session now; while the rules see input,
    # that web session does not expire as idle (see `authority`).
    web_session_id: str | None = None
    rules: SessionRules | None = None
    # Ends the session from outside, once its runner (session_run) drives it.
    end_now: Callable[[str], Awaitable[None]] | None = None

    def expired(self, ttl: float) -> bool:
        return time.monotonic() - self.created > ttl


def _abandoned_by(session: PendingSession, user_id: str, terminal_fingerprint: str) -> bool:
    """The session is this user's, from this terminal, and has no viewer now (not yet, or no longer)."""
    return (
        session.user_id == user_id
        and hmac.compare_digest(session.terminal_fingerprint, terminal_fingerprint)
        and (session.viewer_socket is None or session.viewer_socket.closed)
    )


def _ticket_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


AliveNodes = Callable[[], Awaitable[Container[str]]]


async def _only_me() -> Container[str]:
    return ()


def _state_values(state: AgentHello | AgentState) -> dict[str, Any]:
    """Host columns from an agent's reported state: signed-in user (empty: nobody), lock state,
    capture method and how the agent runs; what the agent could not tell stays as it was."""
    values: dict[str, Any] = {}
    if state.service is not None:
        values["agent_service"] = state.service
    if state.capture is not None:
        values["capture_method"] = state.capture
        values["capture_note"] = state.capture_note or None
    if state.user is not None:
        values["signed_in_user"] = state.user or None
    if state.locked is not None:
        values["locked"] = state.locked
    return values


class Broker:
    """Sessions on this node. With several nodes, the agent's control channel may be held by another
    node: offers and "close" requests travel by `signaling`, and the agent dials this node directly."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        ticket_seconds: float = 15.0,
        node_id: str = "local",
        public_url: str = "",
        signaling: Signaling | None = None,
        alive_nodes: AliveNodes = _only_me,
    ) -> None:
        self.db = db
        self.ticket_seconds = ticket_seconds
        self.node_id = node_id
        self.public_url = public_url
        self.signaling: Signaling = signaling or LocalSignaling(node_id)
        self.alive_nodes = alive_nodes
        self.draining = False
        self.agents: dict[str, AgentLink] = {}
        self.pending: dict[str, PendingSession] = {}
        self.live: dict[str, PendingSession] = {}
        # Wake-on-LAN relays: wakes this node asked for (id -> relay host, answer) and wakes it passed
        # on to an agent for another node (id -> relay host, that node).
        self.wakes: dict[str, tuple[str, asyncio.Future[WakeDone]]] = {}
        self.relayed: dict[str, tuple[str, str]] = {}

    # ---- agents -------------------------------------------------------------------------

    async def agent_online(self, link: AgentLink) -> None:
        old = self.agents.get(link.host_id)
        self.agents[link.host_id] = link
        if old is not None and old.ws is not link.ws:
            await old.ws.close(code=CloseCode.REPLACED, message=b"replaced by a newer connection")
        hello = link.hello  # cut to the columns' sizes by the parser
        async with self.db.begin() as s:
            values: dict[str, Any] = {"online": True, "last_seen": utcnow(), "control_node": self.node_id}
            for column, value in (("hostname", hello.hostname), ("os", hello.os), ("agent_version", hello.version)):
                if value is not None:
                    values[column] = value
            values.update(_state_values(hello))
            if hello.network is not None:
                values["network"] = json.dumps([i.as_dict() for i in hello.network], separators=(",", ":"))
            await s.execute(update(Host).where(Host.id == link.host_id).values(**values))

    async def agent_state(self, host_id: str, state: AgentState) -> None:
        """The desk's signed-in user or lock state changed (what the agent cannot tell stays as it was)."""
        values = _state_values(state)
        if values:
            async with self.db.begin() as s:
                await s.execute(update(Host).where(Host.id == host_id).values(last_seen=utcnow(), **values))

    async def agent_seen(self, host_id: str) -> None:
        async with self.db.begin() as s:
            await s.execute(update(Host).where(Host.id == host_id).values(last_seen=utcnow()))

    async def agent_offline(self, link: AgentLink) -> None:
        if self.agents.get(link.host_id) is not link:
            return  # a newer connection already replaced this one
        del self.agents[link.host_id]
        async with self.db.begin() as s:
            await s.execute(
                update(Host)
                .where(Host.id == link.host_id, Host.control_node == self.node_id)  # not if it moved on
                .values(online=False, last_seen=utcnow(), control_node=None)
            )

    # ---- Wake-on-LAN relays ---------------------------------------------------------------

    async def relay_wake(self, relay_host: str, wake: Wake) -> WakeDone:
        """Ask the agent of `relay_host` (on this node or another) to send the magic packets; its
        answer, or HostUnavailable when it cannot be reached or does not answer in time."""
        future: asyncio.Future[WakeDone] = asyncio.get_running_loop().create_future()
        self.wakes[wake.id] = (relay_host, future)
        try:
            link = self.agents.get(relay_host)
            if link is not None:
                await link.send(wake)
            else:
                async with self.db() as s:
                    host = await s.get(Host, relay_host)
                if host is None or not host.online or not host.control_node:
                    raise HostUnavailable(EndReason.HOST_OFFLINE)
                message = {"type": "wake", "host": relay_host, "wake": to_object(wake), "from": self.node_id}
                await self._signal(host.control_node, message)
            try:
                return await asyncio.wait_for(future, WAKE_ANSWER_SECONDS)
            except TimeoutError:
                raise HostUnavailable(EndReason.HOST_OFFLINE) from None
        finally:
            self.wakes.pop(wake.id, None)

    async def wake_done(self, host_id: str, done: WakeDone) -> None:
        """An agent answered a wake: to the waiting request here, or back to the node that asked.
        Only the agent that was asked can answer it."""
        mine = self.wakes.get(done.id)
        if mine is not None and mine[0] == host_id and not mine[1].done():
            mine[1].set_result(done)
            return
        passed = self.relayed.pop(done.id, None)
        if passed is not None and passed[0] == host_id:
            try:
                await self.signaling.send(
                    passed[1], {"type": "wake_done", "host": host_id, "wake_done": to_object(done)}
                )
            except (ConnectionError, OSError, ValueError) as exc:
                log.warning("could not pass a wake answer to node %s: %s", passed[1], exc)

    async def _wake_signal(self, message: dict[str, Any]) -> None:
        host = str(message.get("host"))
        if message.get("type") == "wake_done":
            try:
                done = from_object(message.get("wake_done"), Sender.AGENT)
            except ProtocolError:
                return
            if isinstance(done, WakeDone):
                await self.wake_done(host, done)
            return
        link = self.agents.get(host)
        try:
            wake = from_object(message.get("wake"), Sender.GATEWAY)
        except ProtocolError as exc:
            log.warning("dropped a malformed wake from another node: %s", exc)
            return
        if link is not None and isinstance(wake, Wake):
            if len(self.relayed) > 1000:  # answers that never came
                self.relayed.clear()
            self.relayed[wake.id] = (host, str(message.get("from"))[:64])
            await link.send(wake)

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
        await self.expire_tickets()
        if self.draining:
            raise HostUnavailable(EndReason.GATEWAY_SHUTDOWN)
        alive = await self.alive_nodes()  # before taking a connection: never hold one while asking for another
        async with self.db() as s:
            host = await s.get(Host, host_id)
            elsewhere = [
                (sid, node)
                for sid, node in (
                    await s.execute(
                        select(Session.id, Session.node_id).where(
                            Session.host_id == host_id,
                            Session.state.in_(("requested", "live")),
                            Session.node_id != self.node_id,
                        )
                    )
                ).all()
                if node is not None and node in alive
            ]
        if host is None:
            raise HostUnavailable("unknown_host")
        if host_id not in self.agents and not (host.online and host.control_node in alive):
            raise HostUnavailable(EndReason.HOST_OFFLINE)
        current = [p for p in (*self.live.values(), *self.pending.values()) if p.host_id == host_id]
        # The same person at the same terminal whose viewer is gone (a crashed or closed browser, a
        # second click on 接続) is not a second user of the PC: the new request replaces that session
        # at once instead of waiting out its resume grace as "in use".
        own = [p for p in current if _abandoned_by(p, user_id, terminal_fingerprint)]
        for mine in own:
            await self.close_session(mine, EndReason.TAKEOVER)
        current = [p for p in current if p not in own]
        if current or elsewhere:
            if policy is None or policy.conflict == "refuse":
                raise HostUnavailable(EndReason.IN_USE)
            for other in current:
                await self.close_session(other, EndReason.TAKEOVER)
            for sid, node in elsewhere:
                await self._signal(node, {"type": "close_session", "session": sid, "reason": EndReason.TAKEOVER})
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
            viewer_address=viewer_address,
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
                    node_id=self.node_id,
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
        """Tell the agent (through whichever node holds its control channel) to dial this node."""
        offer = Offer(
            session=pending.id,
            ticket=pending.agent_ticket,
            path=f"/sessions/{pending.id}/agent",
            url=self.public_url,
            policy=pending.policy.for_agent() if pending.policy is not None else {},
        )
        link = self.agents.get(pending.host_id)
        if link is not None:
            await link.send(offer)
            return
        async with self.db() as s:
            host = await s.get(Host, pending.host_id)
        if host is None or not host.online or not host.control_node:
            raise HostUnavailable(EndReason.HOST_OFFLINE)
        await self._signal(host.control_node, {"type": "offer", "host": pending.host_id, "offer": to_object(offer)})

    async def _signal(self, node: str, message: dict[str, Any]) -> None:
        try:
            await self.signaling.send(node, message)
        except (ConnectionError, OSError, ValueError) as exc:
            log.warning("signal to node %s failed: %s", node, exc)
            raise HostUnavailable(EndReason.HOST_OFFLINE) from None

    async def handle_signal(self, message: dict[str, Any]) -> None:
        """A message from another node (or this one, with a single node)."""
        kind = message.get("type")
        if kind == "offer":
            link = self.agents.get(str(message.get("host")))
            try:
                offer = from_object(message.get("offer"), Sender.GATEWAY)
            except ProtocolError as exc:
                log.warning("dropped a malformed offer from another node: %s", exc)
                return
            if link is not None and isinstance(offer, Offer):
                await link.send(offer)
        elif kind in ("wake", "wake_done"):
            await self._wake_signal(message)
        elif kind == "close_session":
            pending = self.live.get(str(message.get("session"))) or self.pending.get(str(message.get("session")))
            if pending is not None:
                await self.close_session(pending, str(message.get("reason", EndReason.TAKEOVER))[:32])

    def claim_agent(self, session_id: str, ticket: str | None, host_id: str, fingerprint: str) -> PendingSession | None:
        """The agent's ticket: first within AGENT_TICKET_TTL, then again to resume while the session lives."""
        pending = self.pending.get(session_id) or self.live.get(session_id)
        if pending is None or pending.host_id != host_id or not _ticket_ok(pending.agent_ticket, ticket):
            return None
        if not pending.agent_claimed and pending.expired(AGENT_TICKET_TTL):
            return None
        if pending.agent_claimed and (pending.id not in self.live or pending.agent_fingerprint != fingerprint):
            return None
        pending.agent_claimed = True
        pending.agent_fingerprint = fingerprint
        return pending

    def claim_resume(self, session_id: str, token: str | None, user_id: str, terminal_id: str) -> PendingSession | None:
        """A viewer coming back to its live session: same user, same terminal, the session's resume token."""
        pending = self.live.get(session_id)
        if pending is None or pending.user_id != user_id or pending.terminal_id != terminal_id:
            return None
        if not _ticket_ok(pending.resume_token, token):
            return None
        return pending

    async def mark_live(self, pending: PendingSession) -> None:
        self.pending.pop(pending.id, None)
        self.live[pending.id] = pending
        async with self.db.begin() as s:
            await s.execute(update(Session).where(Session.id == pending.id).values(state="live", started_at=utcnow()))

    async def end(self, session_id: str, reason: str, to_viewer: int = 0, to_agent: int = 0, updates: int = 0) -> None:
        pending = self.pending.pop(session_id, None) or self.live.pop(session_id, None)
        if pending is not None:
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

    async def expire_tickets(self) -> None:
        """Requests whose viewer never came: forget them and end their rows, so that no other node
        takes the PC for "in use" (it sees only the database)."""
        expired = [sid for sid, p in self.pending.items() if p.expired(p.ticket_ttl) and not p.viewer_claimed]
        for sid in expired:
            await self.end(sid, EndReason.NOT_CONNECTED)

    async def close_for_fingerprint(self, fingerprint: str) -> None:
        """A certificate was revoked: drop the agent's control channel and every session using it."""
        for link in [link for link in self.agents.values() if link.fingerprint == fingerprint]:
            await link.ws.close(code=CloseCode.ENDED, message=b"certificate revoked")
        for pending in list(self.live.values()) + list(self.pending.values()):
            if fingerprint in (pending.terminal_fingerprint, pending.agent_fingerprint):
                await self.close_session(pending, EndReason.CERTIFICATE_REVOKED)

    async def close_user_sessions(self, user_id: str, reason: str, terminal_id: str | None = None) -> None:
        """Every session of `user_id` (on `terminal_id` only, if given), on every node (an account
        disabled on node A must not keep relaying on node B)."""
        for pending in list(self.live.values()) + list(self.pending.values()):
            if pending.user_id == user_id and terminal_id in (None, pending.terminal_id):
                await self.close_session(pending, reason)
        query = select(Session.id, Session.node_id).where(
            Session.user_id == user_id,
            Session.state.in_(("requested", "live")),
            Session.node_id != self.node_id,
        )
        if terminal_id is not None:
            query = query.where(Session.terminal_id == terminal_id)
        async with self.db() as s:
            elsewhere = (await s.execute(query)).all()
        for session_id, node in elsewhere:
            await self.close_anywhere(session_id, node, reason)

    async def close_anywhere(self, session_id: str, node: str | None, reason: str) -> None:
        """End a session wherever it is relayed: here; on its node, by a signal; or, when no living
        node holds it, in the database alone."""
        pending = self.live.get(session_id) or self.pending.get(session_id)
        if pending is not None:
            await self.close_session(pending, reason)
            return
        if node and node != self.node_id and node in await self.alive_nodes():
            try:
                await self.signaling.send(node, {"type": "close_session", "session": session_id, "reason": reason})
                return
            except (ConnectionError, OSError, ValueError) as exc:
                log.warning("could not ask node %s to close session %s: %s", node, session_id, exc)
        await self.end(session_id, reason)

    async def close_session(self, pending: PendingSession, reason: str) -> None:
        """End a session from outside its runner: the viewer is told why at once and the session
        records the first reason it was given. Before its viewer has come, the runner ends it at start."""
        if pending.forced_reason is None:
            pending.forced_reason = reason
        if pending.end_now is not None:
            await pending.end_now(reason)
