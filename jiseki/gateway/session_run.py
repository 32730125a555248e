"""One session's life on the node that holds its viewer, from pairing to the recorded end.

The viewer's and the agent's sockets are *attached* to the session: when one of them drops because
the network did (not because someone closed it), the session is suspended, not ended: the gateway
releases every key still held on the office PC, acknowledges what the lost viewer never drew (so the
agent's flow control does not wait forever), and waits up to the grace period for the socket to
come back. A viewer that resumes gets the desktop layout again and a full picture. After the grace
period the session ends with reason "network" (viewer) or "host_disconnected" (agent).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from jiseki.protocol import Ack, Key, Refresh, Status, StatusCode, encode

from . import audit, recordings_db
from .broker import HostUnavailable, PendingSession, Socket
from .db.models import utcnow
from .drop_audit import DropAudit
from .end_reasons import EndReason
from .hosts import is_assigned
from .policies_db import effective_for
from .policy import combine, time_denial
from .relay import AGENT_LOST, RelayStats, close_both, close_viewer, relay
from .rules import Decision, End, SessionRules, Verdict, Warn
from .state import GatewayState

log = logging.getLogger(__name__)

AGENT_JOIN_TIMEOUT = 15.0
POLICY_RECHECK = 30.0  # seconds between re-reading the session's policy and assignment


async def _next(queue: asyncio.Queue[Socket | None], wait: float) -> Socket | None:
    try:
        return await asyncio.wait_for(queue.get(), wait)
    except TimeoutError:
        return None


async def _send(ws: web.WebSocketResponse | None, data: bytes) -> None:
    if ws is not None and not ws.closed:
        try:
            await ws.send_bytes(data)
        except (ConnectionError, RuntimeError):
            pass


async def run_session(state: GatewayState, pending: PendingSession, viewer: Socket) -> None:
    broker = state.broker
    ws, viewer_released = viewer
    pending.viewer_socket = ws
    await _send(ws, encode(Status(StatusCode.WAITING_FOR_HOST, "")))
    try:
        await broker.offer(pending)
        agent = await _next(pending.agents, AGENT_JOIN_TIMEOUT)
    except HostUnavailable as exc:
        await broker.end(pending.id, exc.reason)
        await close_viewer(ws, exc.reason)
        viewer_released.set()
        return
    if agent is None:
        reason = pending.forced_reason or EndReason.HOST_TIMEOUT
        await broker.end(pending.id, reason)
        await close_viewer(ws, reason)
        viewer_released.set()
        return
    agent_ws, agent_released = agent
    await broker.mark_live(pending)
    await audit.record(
        state.db,
        "session_start",
        "ok",
        actor=pending.user_id,
        subject=pending.host_id,
        address=pending.viewer_address,
        session=pending.id,
        terminal=pending.terminal_id,
    )
    await _send(ws, encode(Status(StatusCode.HOST_CONNECTED, "")))

    stats = RelayStats()
    pending.stats = stats  # the console's list of live sessions shows the byte counters
    rules = SessionRules(pending.policy or combine([]), time.monotonic(), utcnow())
    pending.rules = rules  # the authority check reads when input last came

    async def audit_message(direction: str, decision: Decision, counts: dict[str, int] | None = None) -> None:
        outcome = "denied" if decision.verdict is Verdict.DROP else "ok"
        kind = "clipboard" if decision.clipboard is not None else "message_dropped"
        details = {"direction": direction, **(decision.clipboard or {}), **(counts or {})}  # never content
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

    drops = DropAudit(audit_message)

    async def audit_transfer(direction: str, decision: Decision) -> None:
        if decision.verdict is Verdict.DROP:
            await drops.dropped(direction, decision)  # counted; rows bounded per interval
        else:
            await audit_message(direction, decision)

    helpers = [asyncio.create_task(_enforce_time(state, pending, rules))]
    drop_writer = asyncio.create_task(drops.run())
    recorder = recordings_db.start(state.config, pending) if rules.policy.record else None
    keyframes: asyncio.Task[None] | None = None
    reason = EndReason.GATEWAY_SHUTDOWN
    grace = state.config.gateway.resume_grace_seconds
    try:
        while True:
            if recorder is not None and keyframes is None:
                keyframes = asyncio.create_task(recordings_db.keyframes(agent_ws))
            pending.viewer_socket, pending.agent_ws = ws, agent_ws
            reason = await relay(ws, agent_ws, stats, rules, audit_transfer, recorder)
            if pending.forced_reason or reason not in (EndReason.NETWORK, AGENT_LOST) or not grace:
                break
            if reason == EndReason.NETWORK:  # the viewer's link broke: wait for it to resume
                viewer_released.set()
                pending.viewer_socket = None
                await _release_keys(agent_ws, stats)
                got = await _next(pending.viewers, grace)
                if got is None or pending.forced_reason:
                    reason = pending.forced_reason or EndReason.NETWORK
                    break
                ws, viewer_released = got
                await _resume_viewer(ws, agent_ws, stats)
                await audit.record(
                    state.db,
                    "session_resumed",
                    "ok",
                    actor=pending.user_id,
                    subject=pending.host_id,
                    session=pending.id,
                    side="viewer",
                )
            else:  # the agent's link broke: the agent dials again with its ticket
                agent_released.set()
                if keyframes is not None:
                    keyframes.cancel()
                    keyframes = None
                await _send(ws, encode(Status(StatusCode.WAITING_FOR_HOST, "")))
                got = await _next(pending.agents, grace)
                if got is None or pending.forced_reason:
                    reason = pending.forced_reason or EndReason.HOST_DISCONNECTED
                    break
                agent_ws, agent_released = got
                stats.held_keys.clear()  # a new agent session starts with no key held
                await _send(ws, encode(Status(StatusCode.HOST_CONNECTED, "")))
                await audit.record(
                    state.db,
                    "session_resumed",
                    "ok",
                    actor=pending.user_id,
                    subject=pending.host_id,
                    session=pending.id,
                    side="agent",
                )
    finally:
        for task in helpers:
            task.cancel()
        if keyframes is not None:
            keyframes.cancel()
        if recorder is not None:
            await recordings_db.finish(state.db, pending, recorder)
        reason = pending.forced_reason or reason
        drops.stop()
        try:
            await drop_writer  # writes the drops counted since its last row
        except Exception:  # the session must still be ended and recorded
            log.exception("could not write the counted drops of session %s", pending.id)
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
        viewer_released.set()
        agent_released.set()


async def _release_keys(agent_ws: web.WebSocketResponse, stats: RelayStats) -> None:
    """The viewer is gone: nothing may stay pressed on the office PC, and the agent must not keep
    waiting for acknowledgements the lost viewer will never send."""
    for usage in sorted(stats.held_keys):
        await _send(agent_ws, encode(Key(usage, False)))
    stats.held_keys.clear()
    if stats.last_update_seq and stats.last_update_seq != stats.last_ack_seq:
        await _send(agent_ws, encode(Ack(stats.last_update_seq, 0)))
        stats.last_ack_seq = stats.last_update_seq


async def _resume_viewer(ws: web.WebSocketResponse, agent_ws: web.WebSocketResponse, stats: RelayStats) -> None:
    if stats.last_desktop is not None:
        await _send(ws, stats.last_desktop)  # the layout first: the new page has an empty canvas
    if stats.last_layout is not None:
        await _send(ws, stats.last_layout)  # and the keyboard layout, for the new page's mismatch check
    await _send(ws, encode(Status(StatusCode.HOST_CONNECTED, "")))
    await _send(agent_ws, encode(Refresh()))  # then a full picture


async def _enforce_time(state: GatewayState, pending: PendingSession, rules: SessionRules) -> None:
    """Warn, then end the session when its idle, length or hours limit is reached; follow policy changes."""
    next_check = time.monotonic() + POLICY_RECHECK
    while True:
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
            await _send(pending.viewer_socket, encode(Status(StatusCode.WARNING, f"{action.reason}:{action.seconds}")))
        elif isinstance(action, End):
            await state.broker.close_session(pending, action.reason)
            return
