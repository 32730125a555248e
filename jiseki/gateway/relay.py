"""Relay one paired session between the viewer's and the agent's WebSockets.

Every message is parsed before it is forwarded (a hostile or broken peer cannot push
malformed data through); send() awaits the socket's drain, so a slow viewer slows the agent
down instead of growing a queue here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from jiseki.protocol import (
    Ack,
    Desktop,
    Key,
    KeyboardLayout,
    ProtocolError,
    Status,
    StatusCode,
    Update,
    decode_from_agent,
    decode_from_viewer,
    encode,
)
from jiseki.protocol.messages import Message

from .end_reasons import EndReason
from .recording import Recorder
from .rules import FORWARD as _FORWARD
from .rules import Decision, SessionRules, Verdict

log = logging.getLogger(__name__)

# Called for every clipboard transfer (metadata only) and every dropped message; the session decides
# what becomes an audit row (drops are counted, not written one by one: drop_audit.py).
AuditHook = Callable[[str, Decision], Awaitable[None]]


AGENT_LOST = "agent_lost"  # the agent's link broke (not a clean close): the session may resume


@dataclass
class RelayStats:
    to_viewer: int = 0
    to_agent: int = 0
    updates: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    # What the gateway must know to suspend and resume a session (session_run.py).
    held_keys: set[int] = field(default_factory=set)
    last_update_seq: int = 0
    last_ack_seq: int = 0
    last_desktop: bytes | None = None
    last_layout: bytes | None = None  # the office PC's keyboard layout, for a resumed viewer


async def _pump(
    src: web.WebSocketResponse,
    dst: web.WebSocketResponse,
    parse: Callable[[bytes], Message],
    closed_reason: str,
    decide: Callable[[int, Message], Decision],
    direction: str,
    stats: RelayStats,
    audit: AuditHook | None,
    tap: Callable[[bytes], Awaitable[None]] | None = None,
) -> str:
    async for msg in src:
        if msg.type != WSMsgType.BINARY:
            return EndReason.PROTOCOL_ERROR
        data: bytes = msg.data
        try:
            parsed = parse(data)
        except ProtocolError:
            return EndReason.PROTOCOL_ERROR
        decision = decide(len(data), parsed)
        if decision.verdict is Verdict.DROP:
            stats.dropped[decision.reason] += 1
            if audit is not None:
                await audit(direction, decision)
            continue
        if decision.clipboard and audit is not None:
            await audit(direction, decision)
        await dst.send_bytes(data)
        if tap is not None:
            await tap(data)
    if src.close_code not in _CLEAN_CLOSE:
        # The link broke; nobody closed the session.
        log.info("%s link broke (close code %s)", "viewer" if direction == "to_host" else "agent", src.close_code)
        return EndReason.NETWORK if direction == "to_host" else AGENT_LOST
    return closed_reason


_CLEAN_CLOSE = (1000, 1001)


async def relay(
    viewer: web.WebSocketResponse,
    agent: web.WebSocketResponse,
    stats: RelayStats,
    rules: SessionRules | None = None,
    audit: AuditHook | None = None,
    recorder: Recorder | None = None,
) -> str:
    """Run until either side ends; returns the end reason. The caller closes the sockets.

    With `rules`, the session's policy decides what passes: input in view-only sessions and
    clipboard transfers the policy forbids are dropped here, whatever the browser sent."""

    def to_viewer(n: int, parsed: Message) -> Decision:
        decision = rules.from_agent(parsed) if rules is not None else _FORWARD
        if decision.verdict is Verdict.FORWARD:
            stats.to_viewer += n
            if isinstance(parsed, Update):
                stats.updates += 1
                stats.last_update_seq = parsed.seq
            elif isinstance(parsed, Desktop):
                stats.last_desktop = encode(parsed)
            elif isinstance(parsed, KeyboardLayout):
                stats.last_layout = encode(parsed)
        return decision

    def to_agent(n: int, parsed: Message) -> Decision:
        decision = rules.from_viewer(parsed, time.monotonic()) if rules is not None else _FORWARD
        if decision.verdict is Verdict.FORWARD:
            stats.to_agent += n
            if isinstance(parsed, Key):
                (stats.held_keys.add if parsed.down else stats.held_keys.discard)(parsed.usage)
            elif isinstance(parsed, Ack):
                stats.last_ack_seq = parsed.seq
        return decision

    tasks = [
        asyncio.create_task(
            _pump(
                agent,
                viewer,
                decode_from_agent,
                EndReason.HOST_DISCONNECTED,
                to_viewer,
                "to_terminal",
                stats,
                audit,
                recorder.add if recorder is not None else None,
            )
        ),
        asyncio.create_task(
            _pump(viewer, agent, decode_from_viewer, EndReason.VIEWER_CLOSED, to_agent, "to_host", stats, audit)
        ),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first = done.pop()
        reason = first.result() if not first.cancelled() and first.exception() is None else EndReason.HOST_DISCONNECTED
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return reason


async def close_both(viewer: web.WebSocketResponse, agent: web.WebSocketResponse, reason: str) -> None:
    async def close_agent() -> None:
        if not agent.closed:
            await agent.close(code=1000, message=reason.encode())

    await asyncio.gather(close_viewer(viewer, reason), close_agent(), return_exceptions=True)


async def close_viewer(viewer: web.WebSocketResponse, reason: str) -> None:
    """Tell the viewer why, then close; the viewer shows the reason in words."""
    if viewer.closed:
        return
    try:
        await viewer.send_bytes(encode(Status(StatusCode.SESSION_ENDED, reason)))
    except (ConnectionError, RuntimeError):
        pass
    await viewer.close(code=1000, message=reason.encode())
