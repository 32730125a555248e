"""Relay one paired session between the viewer's and the agent's WebSockets.

Every message is parsed before it is forwarded (a hostile or broken peer cannot push
malformed data through); send() awaits the socket's drain, so a slow viewer slows the agent
down instead of growing a queue here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from jiseki.protocol import ProtocolError, Status, StatusCode, Update, decode_from_agent, decode_from_viewer, encode
from jiseki.protocol.messages import Message

from .broker import EndReason


@dataclass
class RelayStats:
    to_viewer: int = 0
    to_agent: int = 0
    updates: int = 0


async def _pump(
    src: web.WebSocketResponse,
    dst: web.WebSocketResponse,
    parse: Callable[[bytes], Message],
    closed_reason: str,
    on_message: Callable[[int, Message], None],
) -> str:
    async for msg in src:
        if msg.type != WSMsgType.BINARY:
            return EndReason.PROTOCOL_ERROR
        data: bytes = msg.data
        try:
            parsed = parse(data)
        except ProtocolError:
            return EndReason.PROTOCOL_ERROR
        on_message(len(data), parsed)
        await dst.send_bytes(data)
    return closed_reason


async def relay(viewer: web.WebSocketResponse, agent: web.WebSocketResponse, stats: RelayStats) -> str:
    """Run until either side ends; returns the end reason. The caller closes the sockets."""

    def to_viewer(n: int, parsed: Message) -> None:
        stats.to_viewer += n
        if isinstance(parsed, Update):
            stats.updates += 1

    def to_agent(n: int, _parsed: Message) -> None:
        stats.to_agent += n

    tasks = [
        asyncio.create_task(_pump(agent, viewer, decode_from_agent, EndReason.HOST_DISCONNECTED, to_viewer)),
        asyncio.create_task(_pump(viewer, agent, decode_from_viewer, EndReason.VIEWER_CLOSED, to_agent)),
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
