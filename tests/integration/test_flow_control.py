"""Flow control with the real agent on a real Xvfb, through the real gateway: a viewer that stops
acknowledging gets no more than the window, and the agent keeps no queue."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import psutil
import pytest

from jiseki.agent.capture.x11 import X11Capture
from jiseki.agent.input.x11 import X11Input
from jiseki.agent.runner import Agent
from jiseki.config import AgentConfig
from jiseki.demo.desktop import VirtualDesktop
from jiseki.demo.processes import ProcessGroup
from jiseki.protocol import Ack, Update, decode_from_agent, encode

from .conftest import Browser, RunningGateway

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is required")

WINDOW = 2


async def open_viewer(b: Browser, gw: RunningGateway) -> aiohttp.ClientWebSocketResponse:
    assert (await b.login(gw.staff["alice"]))[0] == 303
    deadline = time.monotonic() + 20
    while True:  # until the agent's control channel is up
        status, created = await b.request_session("pc-1")
        if status == 201:
            break
        assert time.monotonic() < deadline, created
        await asyncio.sleep(0.2)
    return await b.viewer_socket(created)


async def updates_within(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[Update]:
    got: list[Update] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        assert msg.type == aiohttp.WSMsgType.BINARY, msg
        parsed = decode_from_agent(msg.data)
        if isinstance(parsed, Update):
            got.append(parsed)
    return got


async def test_viewer_that_stops_acknowledging_gets_only_the_window(gateway: RunningGateway, tmp_path: Path) -> None:
    group = ProcessGroup()
    desktop = VirtualDesktop(group, 800, 600)
    agent_task = None
    try:
        desktop.start_x()
        # A screen that never rests: a terminal printing as fast as it can.
        group.start(
            "busy",
            ["xterm", "-geometry", "100x40+0+0", "-e", "sh", "-c", "while :; do seq 1 100000; done"],
            env=desktop.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        config = AgentConfig(gateway_url=gateway.url, cert_dir=gateway.root / "agents" / "pc-1", max_unacked=WINDOW)
        agent = Agent(config, lambda: X11Capture(desktop.display), lambda: X11Input(desktop.display))
        agent_task = asyncio.create_task(agent.run_forever())
        me = psutil.Process(os.getpid())
        async with Browser(gateway, gateway.terminal_ssl()) as b:
            viewer = await open_viewer(b, gateway)
            first = await updates_within(viewer, 2.0)
            rss_before = me.memory_info().rss
            # No ACK at all: the agent may have at most WINDOW updates in flight, whatever changes.
            silent = await updates_within(viewer, 3.0)
            assert len(first) + len(silent) <= WINDOW
            assert me.memory_info().rss - rss_before < 64 * 1024 * 1024
            # One ACK reopens the window; the agent resumes with the current picture, then stops again.
            last = (first + silent)[-1]
            await viewer.send_bytes(encode(Ack(last.seq, 1)))
            resumed = await updates_within(viewer, 2.0)
            assert 1 <= len(resumed) <= WINDOW
            assert resumed[0].seq == last.seq + 1
            await viewer.close()
    finally:
        if agent_task is not None:
            agent_task.cancel()
            await asyncio.gather(agent_task, return_exceptions=True)
        group.stop_all()
