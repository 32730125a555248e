"""WebSocket endpoints: the viewer, the agent's control channel and the agent's data channel."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import WSMsgType, web

from jiseki.protocol import Status, StatusCode, encode
from jiseki.protocol.codec import MAX_AGENT_MESSAGE, MAX_VIEWER_MESSAGE

from .. import audit
from ..broker import AgentLink, Broker, EndReason, HostUnavailable, PendingSession
from ..certs import CertCheck, CertStatus
from ..db.models import utcnow
from ..hosts import is_assigned
from ..policies_db import effective_for
from ..policy import combine, time_denial
from ..relay import RelayStats, close_both, close_viewer, relay
from ..rules import Decision, End, SessionRules, Verdict, Warn
from ..state import GatewayState
from .guards import SESSION, STATE, TERMINAL, TerminalIdentity
from .security import peer_certificate_der, same_origin

log = logging.getLogger(__name__)

MAX_CONTROL_MESSAGE = 64 * 1024
HEARTBEAT = 20.0  # WebSocket ping interval; a dead link is noticed within two of these
AGENT_JOIN_TIMEOUT = 15.0


def _ws(max_msg_size: int) -> web.WebSocketResponse:
    # compress=False: permessage-deflate on already-compressed images costs ~30x throughput.
    return web.WebSocketResponse(compress=False, max_msg_size=max_msg_size, heartbeat=HEARTBEAT)


async def _agent_identity(request: web.Request) -> CertCheck:
    """The agent certificate of this connection, checked against the database, or 403."""
    state = request.app[STATE]
    check = await state.checker.check(peer_certificate_der(request), "agent")
    if check.status is not CertStatus.OK:
        await audit.record(
            state.db,
            "agent_refused",
            "denied",
            subject=check.owner_id,
            address=request.remote,
            reason=check.status.value,
            path=request.path,
        )
        raise web.HTTPForbidden(text=f"agent certificate refused: {check.status.value}")
    return check


async def viewer_socket(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    broker = state.broker
    loaded = request.get(SESSION)
    terminal: TerminalIdentity = request[TERMINAL]
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    if loaded is None or loaded.row.stage != "full":
        raise web.HTTPForbidden(text="login required")
    pending = broker.claim_viewer(
        request.match_info["session_id"], request.query.get("ticket"), loaded.user.id, terminal.id
    )
    if pending is None:
        await audit.record(
            state.db,
            "session_ticket",
            "denied",
            actor=loaded.user.id,
            address=request.remote,
            session=request.match_info["session_id"][:64],
        )
        raise web.HTTPForbidden(text="invalid or expired session ticket")
    ws = _ws(MAX_VIEWER_MESSAGE)
    await ws.prepare(request)
    pending.viewer_socket = ws
    await ws.send_bytes(encode(Status(StatusCode.WAITING_FOR_HOST, "")))
    try:
        await broker.offer(pending)
        agent_ws = await asyncio.wait_for(asyncio.shield(pending.agent_socket), AGENT_JOIN_TIMEOUT)
    except HostUnavailable as exc:
        await _end_unpaired(broker, pending, ws, exc.reason)
        return ws
    except (TimeoutError, asyncio.CancelledError):
        await _end_unpaired(broker, pending, ws, pending.forced_reason or EndReason.HOST_TIMEOUT)
        return ws
    await broker.mark_live(pending)
    await audit.record(
        state.db,
        "session_start",
        "ok",
        actor=pending.user_id,
        subject=pending.host_id,
        address=request.remote,
        session=pending.id,
        terminal=pending.terminal_id,
    )
    await ws.send_bytes(encode(Status(StatusCode.HOST_CONNECTED, "")))
    stats = RelayStats()
    reason = EndReason.GATEWAY_SHUTDOWN
    rules = SessionRules(pending.policy or combine([]), time.monotonic(), utcnow())

    async def audit_transfer(direction: str, decision: Decision) -> None:
        outcome = "denied" if decision.verdict is Verdict.DROP else "ok"
        kind = "clipboard" if decision.clipboard else "message_dropped"
        details = {"direction": direction, **(decision.clipboard or {})}  # metadata only, never content
        await audit.record(
            state.db,
            kind,
            outcome,
            actor=pending.user_id,
            subject=pending.host_id,
            session=pending.id,
            reason=decision.reason or None,
            **details,
        )

    ticker = asyncio.create_task(_enforce_time(state, pending, ws, rules))
    try:
        reason = await relay(ws, agent_ws, stats, rules, audit_transfer)
    finally:
        ticker.cancel()
        reason = pending.forced_reason or reason
        await broker.end(pending.id, reason, stats.to_viewer, stats.to_agent, stats.updates)
        await audit.record(
            state.db,
            "session_end",
            "ok",
            actor=pending.user_id,
            subject=pending.host_id,
            session=pending.id,
            reason=reason,
            bytes_to_viewer=stats.to_viewer,
        )
        await close_both(ws, agent_ws, reason)
    return ws


POLICY_RECHECK = 30.0  # seconds between re-reading the session's policy and assignment


async def _enforce_time(
    state: GatewayState, pending: PendingSession, ws: web.WebSocketResponse, rules: SessionRules
) -> None:
    """Warn, then end the session when its idle, length or hours limit is reached; follow policy changes."""
    next_check = time.monotonic() + POLICY_RECHECK
    while not ws.closed:
        await asyncio.sleep(1.0)
        now = time.monotonic()
        if now >= next_check:
            next_check = now + POLICY_RECHECK
            async with state.db() as s:
                assigned = await is_assigned(s, pending.user_id, pending.host_id)
                policy = await effective_for(s, pending.user_id, pending.host_id)
            if not assigned or time_denial(policy, utcnow()) is not None or policy.view_only != rules.policy.view_only:
                await state.broker.close_session(pending, EndReason.POLICY_CHANGE)
                return
            rules.update_policy(policy, now, utcnow())
        action = rules.tick(now)
        if isinstance(action, Warn):
            await ws.send_bytes(encode(Status(StatusCode.WARNING, f"{action.reason}:{action.seconds}")))
        elif isinstance(action, End):
            await state.broker.close_session(pending, action.reason)
            return


async def _end_unpaired(broker: Broker, pending: PendingSession, ws: web.WebSocketResponse, reason: str) -> None:
    await broker.end(pending.id, reason)
    await close_viewer(ws, reason)


async def agent_data_socket(request: web.Request) -> web.StreamResponse:
    check = await _agent_identity(request)
    assert check.owner_id is not None and check.fingerprint is not None
    broker = request.app[STATE].broker
    pending = broker.claim_agent(
        request.match_info["session_id"], request.query.get("ticket"), check.owner_id, check.fingerprint
    )
    if pending is None:
        raise web.HTTPForbidden(text="invalid or expired session ticket")
    ws = _ws(MAX_AGENT_MESSAGE)
    await ws.prepare(request)
    pending.agent_socket.set_result(ws)
    # The viewer's handler runs the relay; returning from here would close the socket early.
    await pending.finished.wait()
    return ws


def _valid_hello(message: Any) -> dict[str, Any] | None:
    if not isinstance(message, dict) or message.get("type") != "hello":
        return None
    return {k: v for k, v in message.items() if k in ("hostname", "os", "version") and isinstance(v, str)}


async def agent_control_socket(request: web.Request) -> web.StreamResponse:
    check = await _agent_identity(request)
    assert check.owner_id is not None and check.fingerprint is not None
    host_id = check.owner_id
    broker = request.app[STATE].broker
    ws = _ws(MAX_CONTROL_MESSAGE)
    await ws.prepare(request)
    link: AgentLink | None = None
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            try:
                message = json.loads(msg.data)
            except ValueError:
                break
            if link is None:
                info = _valid_hello(message)
                if info is None:
                    break
                link = AgentLink(host_id, ws, check.fingerprint, info)
                await broker.agent_online(link)
                log.info("agent %s online", host_id)
            elif isinstance(message, dict) and message.get("type") == "ping":
                await broker.agent_seen(host_id)
                await ws.send_str('{"type":"pong"}')
            else:
                log.warning("agent %s sent an unknown control message", host_id)
    finally:
        if link is not None:
            await broker.agent_offline(link)
            log.info("agent %s offline", host_id)
    return ws
