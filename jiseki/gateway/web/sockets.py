"""WebSocket endpoints: the viewer, the agent's control channel and the agent's data channel."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from jiseki.protocol.codec import MAX_AGENT_MESSAGE, MAX_VIEWER_MESSAGE

from .. import audit
from ..broker import AgentLink
from ..certs import CertCheck, CertStatus
from ..session_run import run_session
from ..textclean import without_controls
from .guards import SESSION, STATE, TERMINAL, TerminalIdentity
from .security import peer_certificate_der, same_origin

log = logging.getLogger(__name__)

MAX_CONTROL_MESSAGE = 64 * 1024
HEARTBEAT = 20.0  # WebSocket ping interval; a dead link is noticed within two of these


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
    """A new session (with the one-time ticket) or a viewer coming back to one (with its resume token)."""
    state = request.app[STATE]
    broker = state.broker
    loaded = request.get(SESSION)
    terminal: TerminalIdentity = request[TERMINAL]
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    if loaded is None or loaded.row.stage != "full":
        raise web.HTTPForbidden(text="login required")
    session_id = request.match_info["session_id"]
    resume = request.query.get("resume")
    if resume is not None:
        pending = broker.claim_resume(session_id, resume, loaded.user.id, terminal.id)
    else:
        pending = broker.claim_viewer(session_id, request.query.get("ticket"), loaded.user.id, terminal.id)
    if pending is None:
        await audit.record(
            state.db,
            "session_ticket",
            "denied",
            actor=loaded.user.id,
            address=request.remote,
            session=session_id[:64],
            resume=resume is not None,
        )
        raise web.HTTPForbidden(text="invalid or expired session ticket")
    pending.web_session_id = loaded.row.id  # this browser's login now carries the session
    ws = _ws(MAX_VIEWER_MESSAGE)
    await ws.prepare(request)
    released = asyncio.Event()
    if resume is None:
        # The session outlives this socket (it may resume on another one): it runs in its own task.
        runner = asyncio.create_task(run_session(state, pending, (ws, released)))
        _RUNNING.add(runner)
        runner.add_done_callback(_RUNNING.discard)
    else:
        current = pending.viewer_socket
        if current is not None and not current.closed:
            await current.close(code=4001, message=b"resumed elsewhere")  # a half-open old link
        try:
            await asyncio.wait_for(pending.viewers.put((ws, released)), 10)
        except TimeoutError:
            await ws.close(code=4002, message=b"could not resume")
            return ws
    await released.wait()
    return ws


_RUNNING: set[asyncio.Task[None]] = set()


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
    released = asyncio.Event()
    current = pending.agent_ws
    if current is not None and not current.closed:
        await current.close(code=4001, message=b"resumed elsewhere")
    try:
        await asyncio.wait_for(pending.agents.put((ws, released)), 10)
    except TimeoutError:
        await ws.close(code=4002, message=b"could not resume")
        return ws
    # The session's runner relays; returning from here would close the socket early.
    await released.wait()
    return ws


def _valid_hello(message: Any) -> dict[str, Any] | None:
    if not isinstance(message, dict) or message.get("type") != "hello":
        return None
    info = {k: v for k, v in message.items() if k in ("hostname", "os", "version") and isinstance(v, str)}
    return {**{k: without_controls(v) for k, v in info.items()}, **_host_state(message)}


def _host_state(message: dict[str, Any]) -> dict[str, Any]:
    """The signed-in user and lock state an agent reports (in its hello and in `state` messages)."""
    state: dict[str, Any] = {}
    if isinstance(message.get("user"), str):
        state["user"] = without_controls(message["user"])
    if isinstance(message.get("locked"), bool):
        state["locked"] = message["locked"]
    return state


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
            elif isinstance(message, dict) and message.get("type") == "state":
                await broker.agent_state(host_id, _host_state(message))
            else:
                log.warning("agent %s sent an unknown control message", host_id)
    finally:
        if link is not None:
            await broker.agent_offline(link)
            log.info("agent %s offline", host_id)
    return ws
