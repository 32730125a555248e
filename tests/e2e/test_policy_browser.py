"""Policies seen from a real Chromium and a real X desktop: clipboard directions, lock at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

from jiseki.demo.provision import DEMO_DEPARTMENT
from jiseki.demo.run import DemoStack
from tests.conftest import free_port

from .conftest import grab_screen, login, needs_desktop, terminal_context, wait_for_agent

pytestmark = [pytest.mark.e2e, needs_desktop]

LOCK_COLOUR = (0x1F, 0x3B, 0x5A)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    demo = DemoStack(
        tmp_path_factory.mktemp("policy"), free_port(), quiet=True, lock_command=("i3lock", "-c", "1f3b5a")
    )
    try:
        demo.start()
        wait_for_agent(demo)
        yield demo
    finally:
        subprocess.run(["pkill", "-f", "i3lock -c 1f3b5a"], check=False)
        demo.stop()


@pytest.fixture(scope="module")
def context(browser, stack: DemoStack):  # type: ignore[no-untyped-def]
    ctx = terminal_context(browser, stack, viewport={"width": 1600, "height": 1000})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base_url)
    page = ctx.new_page()
    login(page, stack)
    page.close()
    yield ctx
    ctx.close()


def policy(stack: DemoStack, *args: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jiseki",
            "policy",
            "set",
            "--department",
            DEMO_DEPARTMENT,
            *args,
            "--config",
            str(stack.config_path),
        ],
        check=True,
        capture_output=True,
    )


def host_clipboard(stack: DemoStack) -> str:
    result = subprocess.run(
        ["xclip", "-selection", "clipboard", "-o"],
        capture_output=True,
        text=True,
        env={**os.environ, "DISPLAY": stack.desktop.display},
        check=False,
    )
    return result.stdout if result.returncode == 0 else ""


def set_host_clipboard(stack: DemoStack, text: str) -> None:
    subprocess.run(
        ["xclip", "-selection", "clipboard", "-i"],
        input=text,
        text=True,
        check=True,
        env={**os.environ, "DISPLAY": stack.desktop.display},
    )


def connect(context, stack: DemoStack):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.goto(stack.viewer_url)
    for _ in range(200):
        if page.evaluate("window.jisekiStats && window.jisekiStats.framesDrawn > 0"):
            return page
        time.sleep(0.1)
    raise AssertionError(page.evaluate("window.jisekiStats"))


def refocus(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("window.dispatchEvent(new Event('focus'))")


def test_clipboard_none_shares_nothing(context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    policy(stack, "--clipboard", "none")
    page = connect(context, stack)
    try:
        set_host_clipboard(stack, "office secret 1")
        page.evaluate("navigator.clipboard.writeText('home text 1')")
        refocus(page)
        time.sleep(2.0)
        assert page.evaluate("navigator.clipboard.readText()") == "home text 1"  # nothing came from the PC
        assert host_clipboard(stack) == "office secret 1"  # nothing reached the PC
    finally:
        page.close()


def test_clipboard_both_shares_both_ways(context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    policy(stack, "--clipboard", "both")
    page = connect(context, stack)
    try:
        page.evaluate("navigator.clipboard.writeText('home text 2')")
        refocus(page)
        for _ in range(50):
            if host_clipboard(stack) == "home text 2":
                break
            time.sleep(0.1)
        assert host_clipboard(stack) == "home text 2"
        set_host_clipboard(stack, "office text 2")
        for _ in range(50):
            if page.evaluate("navigator.clipboard.readText()") == "office text 2":
                break
            time.sleep(0.1)
        assert page.evaluate("navigator.clipboard.readText()") == "office text 2"
    finally:
        page.close()
        policy(stack, "--clipboard", "none")


def test_office_pc_is_locked_when_the_session_ends(context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    policy(stack, "--lock-on-end", "yes")
    page = connect(context, stack)
    before = grab_screen(stack.desktop.display)
    assert not (before == LOCK_COLOUR).all(axis=2).mean() > 0.5
    page.close()  # the staff member closes the viewer: the session ends
    for _ in range(100):
        screen = grab_screen(stack.desktop.display)
        if (screen == np.array(LOCK_COLOUR, dtype=np.uint8)).all(axis=2).mean() > 0.95:
            break
        time.sleep(0.1)
    locked = (grab_screen(stack.desktop.display) == np.array(LOCK_COLOUR, dtype=np.uint8)).all(axis=2).mean()
    assert locked > 0.95, f"only {locked:.1%} of the screen shows the lock screen"
    assert subprocess.run(["pgrep", "-f", "i3lock -c 1f3b5a"], capture_output=True).returncode == 0
    # The agent reports the lock: the staff member's "My PCs" shows the PC as locked (ロック中), and
    # the user signed in at the desk is the desktop's own.
    portal = context.new_page()
    try:
        for _ in range(30):
            portal.goto(stack.base_url + "/")
            if portal.locator("tr[data-state='locked']").count() == 1:
                break
            time.sleep(0.5)
        row = portal.locator("tr[data-state='locked']")
        assert row.count() == 1 and "ロック中" in row.inner_text(), portal.content()[:2000]
    finally:
        portal.close()
