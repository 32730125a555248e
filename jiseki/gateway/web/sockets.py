"""WebSocket endpoints: the viewer, the agent's control channel and the agent's data channel."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from jiseki.protocol import MAX_AGENT_MESSAGE, MAX_CONTROL_MESSAGE, MAX_VIEWER_MESSAGE, ProtocolError
from jiseki.protocol.close_codes import CloseCode
from jiseki.protocol.control import AgentHello, AgentState, Ping, Pong, Sender, WakeDone, parse

from .. import audit
from ..auth.websessions import LoadedSession
from ..broker import AgentLink, PendingSession, Socket
from ..certs import CertCheck, CertStatus
from ..session_request import Denied
from ..session_run import run_session
from ..state import GatewayState
from .guards import SESSION, STATE, TERMINAL, TerminalIdentity
from .pages import ask_for_session, denied_body, error_body
from .security import peer_certificate_der, same_origin

log = logging.getLogger(__name__)

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
    ws = _ws(MAX_VIEWER_MESSAGE)
    await ws.prepare(request)
    if resume is None:
        return await _run_new(state, pending, ws, loaded)
    pending.web_session_id = loaded.row.id  # this browser's login now carries the session
    return await _hand_over(ws, pending.viewer_socket, pending.viewers)


async def new_session_socket(request: web.Request) -> web.StreamResponse:
    """`/hosts/{host_id}/session`: a new session asked for on the viewer's socket itself.

    Over a mobile link each round trip costs 50–100 ms: the socket opens at once, the session is
    requested (the same checks as `POST /api/sessions`) while its handshake completes, and the
    offer goes to the PC without waiting for another request. The first message is text: JSON
    `{session, resume}`, then the display channel as on `/sessions/{id}/viewer`; or the refusal
    (`{status, error, message[, allowed, until]}`, as that POST answers) and a normal close.
    Browsers send Origin on WebSocket upgrades and the login cookie is SameSite=Strict: a page of
    another site cannot start a session."""
    state = request.app[STATE]
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    ws = _ws(MAX_VIEWER_MESSAGE)
    await ws.prepare(request)
    loaded = request.get(SESSION)
    terminal: TerminalIdentity = request[TERMINAL]
    host_id = request.match_info["host_id"]
    refusal: dict[str, object] | None = None
    pending: PendingSession | None = None
    if loaded is None or loaded.row.stage != "full":
        refusal = {"status": 401, **error_body(request, "login_required", "Please log in again.")}
    elif not 0 < len(host_id) <= 64:
        refusal = {"status": 400, **error_body(request, "bad_request", "The request was not understood.")}
    else:
        answer = await ask_for_session(request, loaded.user.id, host_id)
        if isinstance(answer, Denied):
            refusal = {"status": answer.status, **denied_body(request, answer)}
        else:
            granted = answer.pending
            pending = state.broker.claim_viewer(granted.id, granted.viewer_ticket, loaded.user.id, terminal.id)
    if refusal is not None or pending is None or loaded is None:
        await ws.send_json(refusal or {"status": 503, "error": "gateway_shutdown", "message": ""})
        await ws.close()
        return ws
    await ws.send_json({"session": pending.id, "resume": pending.resume_token})
    return await _run_new(state, pending, ws, loaded)


async def _run_new(
    state: GatewayState, pending: PendingSession, ws: web.WebSocketResponse, loaded: LoadedSession
) -> web.WebSocketResponse:
    """The viewer's socket of a new session: the session runs in its own task (it outlives this
    socket and may resume on another one); the socket stays open until the session lets it go."""
    pending.web_session_id = loaded.row.id  # this browser's login now carries the session
    released = asyncio.Event()
    runner = asyncio.create_task(run_session(state, pending, (ws, released)))
    _RUNNING.add(runner)
    runner.add_done_callback(_RUNNING.discard)
    await released.wait()
    return ws


async def _hand_over(
    ws: web.WebSocketResponse,
    current: web.WebSocketResponse | None,
    queue: asyncio.Queue[Socket | None],
) -> web.WebSocketResponse:
    """Give a running session a side's new socket (a resume, an agent's data channel): a half-open
    old one of that side is closed first. The session's runner relays; returning from here would
    close the socket early, so this waits until the session lets it go."""
    if current is not None and not current.closed:
        await current.close(code=CloseCode.RESUMED_ELSEWHERE, message=b"resumed elsewhere")
    released = asyncio.Event()
    try:
        await asyncio.wait_for(queue.put((ws, released)), 10)
    except TimeoutError:
        await ws.close(code=CloseCode.COULD_NOT_RESUME, message=b"could not resume")
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
    return await _hand_over(ws, pending.agent_ws, pending.agents)


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
                message = parse(msg.data, Sender.AGENT)
            except ProtocolError:
                break
            if link is None:
                if not isinstance(message, AgentHello):
                    break
                link = AgentLink(host_id, ws, check.fingerprint, message)
                await broker.agent_online(link)
                log.info("agent %s online", host_id)
            elif isinstance(message, Ping):
                await broker.agent_seen(host_id)
                await link.send(Pong())
            elif isinstance(message, AgentState):
                await broker.agent_state(host_id, message)
            elif isinstance(message, WakeDone):
                await broker.wake_done(host_id, message)
            else:
                log.warning("agent %s sent an unknown control message", host_id)
    finally:
        if link is not None:
            await broker.agent_offline(link)
            log.info("agent %s offline", host_id)
    return ws
