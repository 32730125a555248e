"""Relay one paired session between the viewer's and the agent's WebSockets.

Every message is parsed before it is forwarded (a hostile or broken peer cannot push
malformed data through); send() awaits the socket's drain, so a slow viewer slows the agent
down instead of growing a queue here.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from jiseki.protocol import ProtocolError, Status, StatusCode, Update, decode_from_agent, decode_from_viewer, encode
from jiseki.protocol.messages import Message

from .broker import EndReason
from .rules import FORWARD as _FORWARD
from .rules import Decision, SessionRules, Verdict

# Called for every clipboard transfer (metadata only) and for the first drop of each kind.
AuditHook = Callable[[str, Decision], Awaitable[None]]


@dataclass
class RelayStats:
    to_viewer: int = 0
    to_agent: int = 0
    updates: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


async def _pump(
    src: web.WebSocketResponse,
    dst: web.WebSocketResponse,
    parse: Callable[[bytes], Message],
    closed_reason: str,
    decide: Callable[[int, Message], Decision],
    direction: str,
    stats: RelayStats,
    audit: AuditHook | None,
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
            if audit is not None and (decision.clipboard or stats.dropped[decision.reason] == 1):
                await audit(direction, decision)
            continue
        if decision.clipboard and audit is not None:
            await audit(direction, decision)
        await dst.send_bytes(data)
    if direction == "to_host" and src.close_code not in _CLEAN_CLOSE:
        return EndReason.NETWORK  # the viewer's link broke; it did not close the session
    return closed_reason


_CLEAN_CLOSE = (1000, 1001)


async def relay(
    viewer: web.WebSocketResponse,
    agent: web.WebSocketResponse,
    stats: RelayStats,
    rules: SessionRules | None = None,
    audit: AuditHook | None = None,
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
        return decision

    def to_agent(n: int, parsed: Message) -> Decision:
        decision = rules.from_viewer(parsed, time.monotonic()) if rules is not None else _FORWARD
        if decision.verdict is Verdict.FORWARD:
            stats.to_agent += n
        return decision

    tasks = [
        asyncio.create_task(
            _pump(agent, viewer, decode_from_agent, EndReason.HOST_DISCONNECTED, to_viewer, "to_terminal", stats, audit)
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
