"""Relay one live period of a session: read the viewer's and the agent's WebSockets and feed what
comes to the session's machine, which says what to forward (`session_machine`).

Every message is parsed before it is forwarded (a hostile or broken peer cannot push malformed data
through). A pump carries out a message's actions before it reads the next one, and a send awaits the
socket's drain, so a slow viewer slows the agent down instead of growing a queue here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from jiseki.protocol import ProtocolError, decode_from_agent, decode_from_viewer
from jiseki.protocol.close_codes import CloseCode

from . import metrics
from .end_reasons import EndReason
from .session_machine import Action, Phase, SessionMachine, Side

log = logging.getLogger(__name__)

# Any other close (or none) is a broken link: the session may resume.
CLEAN_CLOSE = (CloseCode.NORMAL, CloseCode.GOING_AWAY)

Feed = Callable[[list[Action]], Awaitable[None]]


async def _pump(ws: web.WebSocketResponse, side: Side, machine: SessionMachine, feed: Feed) -> None:
    viewer = side is Side.VIEWER
    parse = decode_from_viewer if viewer else decode_from_agent
    relayed = metrics.relay_counter(side.value)  # the labelled counter looked up once, not per message
    async for msg in ws:
        if msg.type != WSMsgType.BINARY:
            await feed(machine.invalid(side))
            return
        data: bytes = msg.data
        relayed(len(data))
        try:
            parsed = parse(data)
        except ProtocolError:
            await feed(machine.invalid(side))
            return
        await feed(machine.from_viewer(data, parsed, time.monotonic()) if viewer else machine.from_agent(data, parsed))
        if machine.phase is not Phase.LIVE:
            return  # what comes next belongs to the next live period, if any
    broken = ws.close_code not in CLEAN_CLOSE
    if broken:  # the link broke; nobody closed the session
        log.info("%s link broke (close code %s)", side.value, ws.close_code)
    await feed(machine.link_lost(side, broken))


async def _guarded(ws: web.WebSocketResponse, side: Side, machine: SessionMachine, feed: Feed) -> None:
    try:
        await _pump(ws, side, machine, feed)
    except Exception:
        log.exception("relaying from the %s failed", side.value)
        await feed(machine.stop(EndReason.HOST_DISCONNECTED))


async def relay(
    viewer: web.WebSocketResponse,
    agent: web.WebSocketResponse,
    machine: SessionMachine,
    feed: Feed,
    left_live: asyncio.Event,
) -> None:
    """Pump both sockets until the session leaves "live" (`left_live` is set once the actions of that
    step are done: a link lost, an end from outside, a rule); then stop reading. The caller closes."""
    tasks = [
        asyncio.create_task(_guarded(agent, Side.AGENT, machine, feed)),
        asyncio.create_task(_guarded(viewer, Side.VIEWER, machine, feed)),
    ]
    try:
        await left_live.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
