"""The portal's 電源オン in Chromium: the demo PC's agent stops (the PC is "off"), the staff member
presses 電源オン, sees 「起動を待っています…」, the agent comes back and the page shows the PC online."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from jiseki.demo.run import DemoStack

from .conftest import needs_desktop

pytestmark = [pytest.mark.e2e, needs_desktop]


def _host(stack: DemoStack) -> tuple[bool, list[dict[str, object]]]:
    db = stack.gateway.data_dir / "jiseki.db"
    with sqlite3.connect(db) as conn:
        online, network = conn.execute("SELECT online, network FROM hosts WHERE id = 'demo-pc'").fetchone()
    return bool(online), json.loads(network or "[]")


def _until(check, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_power_on_waits_for_the_pc_then_shows_it_online(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    _until(lambda: _host(stack)[0])
    if not _host(stack)[1]:
        pytest.skip("this machine has no IPv4 interface with a MAC to wake through")
    agent = next(p for name, p in stack.group.procs if name == "agent")
    agent.terminate()
    agent.wait(10)
    stack.group.procs = [(n, p) for n, p in stack.group.procs if p is not agent]
    _until(lambda: not _host(stack)[0])
    page = staff_context.new_page()
    try:
        page.goto(stack.base_url + "/")
        button = page.locator("button[data-wake]")
        assert button.inner_text() == "電源オン"
        button.click()
        page.locator("#wake-status", has_text="起動を待っています").wait_for(timeout=15000)
        stack.start_agent()  # the PC "starts"
        online = "tr[data-host='demo-pc'][data-state='online'], tr[data-host='demo-pc'][data-state='locked']"
        page.wait_for_selector(online, timeout=60000)
        assert page.locator("button[data-wake]").count() == 0
    finally:
        page.close()
