"""Real parts: Xvfb + openbox + xterm, the gateway and the agent as processes, Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jiseki.demo.run import DemoStack
from tests.conftest import free_port

if TYPE_CHECKING:
    import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_desktop = pytest.mark.skipif(
    shutil.which("Xvfb") is None or not os.path.exists(CHROMIUM), reason="Xvfb and /usr/bin/chromium are required"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    demo = DemoStack(tmp_path_factory.mktemp("stack"), free_port(), quiet=True)
    try:
        demo.start()
        wait_for_agent(demo)
        yield demo
    finally:
        demo.stop()
        log = demo.data_dir / "processes.log"
        if log.exists():
            print(log.read_text(errors="replace")[-4000:])


def wait_for_agent(demo: DemoStack, timeout: float = 20.0) -> None:
    """Until the gateway's log says the agent's control channel is up."""
    deadline = time.monotonic() + timeout
    log = demo.data_dir / "processes.log"
    while time.monotonic() < deadline:
        if log.exists() and "agent demo-pc online" in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError("the agent did not come online")


# Module scope: Playwright's sync API keeps an event loop running in this thread while the browser
# is open, which would stop the asyncio tests that follow.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def xdotool(display: str, *args: str) -> str:
    return subprocess.run(
        ["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, check=True
    ).stdout


def grab_screen(display: str) -> np.ndarray:
    import mss
    import numpy as np

    with mss.MSS(display=display) as m:
        shot = m.grab(m.monitors[0])
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)[..., :3][..., ::-1].copy()


def data_dir_of(demo: DemoStack) -> Path:
    return demo.data_dir


def terminal_context(browser, stack: DemoStack, **options: object):  # type: ignore[no-untyped-def]
    """A browser context that presents the demo terminal's certificate, as a registered terminal does."""
    creds = stack.credentials
    assert creds is not None
    return browser.new_context(
        ignore_https_errors=True,
        client_certificates=[
            {"origin": stack.base_url, "certPath": creds.terminal_cert, "keyPath": creds.terminal_key}
        ],
        **options,
    )


def login(page, stack: DemoStack, base_url: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Log in as the demo staff member with a fresh one-time code."""
    base = base_url or stack.base_url
    import time as _time

    from jiseki.gateway.auth.totp import code_at

    creds = stack.credentials
    assert creds is not None
    page.goto(base + "/login")
    page.fill("#login_id", creds.login_id)
    page.fill("#password", creds.password)
    # Each code works once: wait for a step no earlier login used.
    # Each code works once per account: wait for a step this stack's demo account has not used yet.
    step = int(_time.time() // 30)
    while (stack.data_dir, step) in _USED_STEPS:
        _time.sleep(0.5)
        step = int(_time.time() // 30)
    _USED_STEPS.add((stack.data_dir, step))
    page.fill("#code", code_at(creds.totp_secret, step * 30))
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


_USED_STEPS: set[tuple[object, int]] = set()


@pytest.fixture(scope="module")
def staff_context(browser, stack: DemoStack):  # type: ignore[no-untyped-def]
    """One logged-in terminal browser per module; tests open their own pages in it."""
    context = terminal_context(browser, stack)
    page = context.new_page()
    login(page, stack)
    page.close()
    yield context
    context.close()
