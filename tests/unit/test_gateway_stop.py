"""A gateway stop never hangs on one step: `server._bounded` gives each step a deadline."""

from __future__ import annotations

import asyncio
import logging

import pytest

from jiseki.gateway import server


async def _stuck_inner(release: asyncio.Event) -> None:
    await release.wait()


async def _stuck(release: asyncio.Event) -> None:
    await _stuck_inner(release)


async def test_a_stuck_step_is_left_after_its_deadline_and_says_where_it_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    caplog.set_level(logging.WARNING, "jiseki.gateway.server")
    await asyncio.wait_for(server._bounded("the stuck step", _stuck(release), seconds=0.2), 5)
    message = caplog.text
    assert "the stuck step did not finish within 0 s" in message
    assert "_stuck -> " in message and "_stuck_inner" in message  # the chain of awaits, innermost last


async def test_a_finished_or_failing_step_returns_and_a_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "jiseki.gateway.server")

    async def ok() -> int:
        return 1

    async def broken() -> None:
        raise RuntimeError("database gone")

    await server._bounded("ok", ok(), seconds=5)
    assert caplog.text == ""
    await server._bounded("engine", broken(), seconds=5)
    assert "gateway stop: engine failed: RuntimeError('database gone')" in caplog.text
