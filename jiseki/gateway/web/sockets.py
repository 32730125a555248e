"""WebSocket endpoints: the viewer, the agent's control channel and the agent's data channel."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy import select

from jiseki.protocol import Status, StatusCode, encode
from jiseki.protocol.codec import MAX_AGENT_MESSAGE, MAX_VIEWER_MESSAGE

from ..broker import AgentLink, Broker, EndReason, HostUnavailable, PendingSession
from ..db.models import Host
from ..pki import fingerprint_der, identity_from_der
from ..relay import RelayStats, close_both, close_viewer, relay
from .security import peer_certificate_der, same_origin

log = logging.getLogger(__name__)

MAX_CONTROL_MESSAGE = 64 * 1024
HEARTBEAT = 20.0  # WebSocket ping interval; a dead link is noticed within two of these
AGENT_JOIN_TIMEOUT = 15.0

BROKER = web.AppKey("broker", Broker)


def _ws(max_msg_size: int) -> web.WebSocketResponse:
    # compress=False: permessage-deflate on already-compressed images costs ~30x throughput.
    return web.WebSocketResponse(compress=False, max_msg_size=max_msg_size, heartbeat=HEARTBEAT)


async def _agent_host(request: web.Request) -> Host:
    """The host whose agent certificate this connection presented, or 403."""
    der = peer_certificate_der(request)
    if der is None:
        raise web.HTTPForbidden(text="client certificate required")
    identity = identity_from_der(der)
    if identity is None or identity[0] != "agent":
        raise web.HTTPForbidden(text="not an agent certificate")
    broker = request.app[BROKER]
    async with broker.db() as s:
        host = (await s.execute(select(Host).where(Host.cert_fingerprint == fingerprint_der(der)))).scalar_one_or_none()
    if host is None or host.id != identity[1]:
        raise web.HTTPForbidden(text="unknown agent certificate")
    return host


async def viewer_socket(request: web.Request) -> web.StreamResponse:
    broker = request.app[BROKER]
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    pending = broker.claim_viewer(request.match_info["session_id"], request.query.get("ticket"))
    if pending is None:
        raise web.HTTPForbidden(text="invalid or expired session ticket")
    ws = _ws(MAX_VIEWER_MESSAGE)
    await ws.prepare(request)
    await ws.send_bytes(encode(Status(StatusCode.WAITING_FOR_HOST, "")))
    try:
        await broker.offer(pending)
        agent_ws = await asyncio.wait_for(asyncio.shield(pending.agent_socket), AGENT_JOIN_TIMEOUT)
    except HostUnavailable as exc:
        await _end_unpaired(broker, pending, ws, exc.reason)
        return ws
    except (TimeoutError, asyncio.CancelledError):
        await _end_unpaired(broker, pending, ws, EndReason.HOST_TIMEOUT)
        return ws
    await broker.mark_live(pending)
    await ws.send_bytes(encode(Status(StatusCode.HOST_CONNECTED, "")))
    stats = RelayStats()
    reason = EndReason.GATEWAY_SHUTDOWN
    try:
        reason = await relay(ws, agent_ws, stats)
    finally:
        await broker.end(pending.id, reason, stats.to_viewer, stats.to_agent, stats.updates)
        await close_both(ws, agent_ws, reason)
    return ws


async def _end_unpaired(broker: Broker, pending: PendingSession, ws: web.WebSocketResponse, reason: str) -> None:
    await broker.end(pending.id, reason)
    await close_viewer(ws, reason)


async def agent_data_socket(request: web.Request) -> web.StreamResponse:
    host = await _agent_host(request)
    broker = request.app[BROKER]
    pending = broker.claim_agent(request.match_info["session_id"], request.query.get("ticket"), host.id)
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
    host = await _agent_host(request)
    broker = request.app[BROKER]
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
                link = AgentLink(host.id, ws, info)
                await broker.agent_online(link)
                log.info("agent %s online", host.id)
            elif isinstance(message, dict) and message.get("type") == "ping":
                await broker.agent_seen(host.id)
                await ws.send_str('{"type":"pong"}')
            else:
                log.warning("agent %s sent an unknown control message", host.id)
    finally:
        if link is not None:
            await broker.agent_offline(link)
            log.info("agent %s offline", host.id)
    return ws
