"""End to end over an emulated poor LTE link (bench/shaper.py, profile lte-poor: 3 Mbit/s down,
1 up, 90 ms round trip, +-20 ms jitter, a 2 s drop every 12 s here instead of 60): the picture ends
exact, keys typed across a drop arrive exactly once and in order, and the session carries on by
itself. Correctness only; the speed over such links is the display benchmark's (`--link`).

Each of these fails if the emulator lost, duplicated or reordered a byte: TLS would refuse the record
and the WebSocket would break (the viewer resumes: `resumes` counts it, and the tests require none).
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.shaper import PROFILES, Shaper
from bench.workload import keys_held
from jiseki.demo.run import DemoStack

from .conftest import grab_screen, login, needs_desktop, xdotool
from .test_viewer import _KEYS, canvas_pixels, page_point, wait_for, wait_until_rest

pytestmark = [pytest.mark.e2e, needs_desktop]

LTE_POOR = replace(PROFILES["lte-poor"], drop_every=12.0)


@pytest.fixture(scope="module")
def link(stack: DemoStack) -> Iterator[Shaper]:
    shaper = Shaper("127.0.0.1", stack.port, LTE_POOR)
    yield shaper
    shaper.close()


@pytest.fixture(scope="module")
def shaped_context(browser, stack: DemoStack, link: Shaper):  # type: ignore[no-untyped-def]
    """A logged-in terminal browser whose every request goes through the link (the page's origin is
    the proxy's: the client certificate, cookies and the WebSocket follow it)."""
    creds = stack.credentials
    assert creds is not None
    origin = f"https://127.0.0.1:{link.port}"
    context = browser.new_context(
        ignore_https_errors=True,
        viewport={"width": 1920, "height": 1200},
        client_certificates=[{"origin": origin, "certPath": creds.terminal_cert, "keyPath": creds.terminal_key}],
    )
    page = context.new_page()
    login(page, stack, base_url=origin)
    page.close()
    yield context
    context.close()


def open_shaped_viewer(context, link: Shaper):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.goto(f"https://127.0.0.1:{link.port}/view/demo-pc", timeout=60_000)
    wait_for(page, "window.jisekiStats && window.jisekiStats.state === 'connected'", timeout=30)
    wait_for(page, "window.jisekiStats.framesDrawn > 0", timeout=30)
    return page


def test_the_picture_is_exact_after_rest(shaped_context, stack: DemoStack, link: Shaper) -> None:  # type: ignore[no-untyped-def]
    page = open_shaped_viewer(shaped_context, link)
    try:
        wait_until_rest(page, timeout=30)
        resumes = page.evaluate("window.jisekiStats.resumes || 0")
        # A large change on the host while the link may drop (every 12 s): the terminal scrolls a
        # few screens of numbers, then shows a last page.
        xdotool(stack.desktop.display, "mousemove", "300", "300", "click", "1")
        xdotool(stack.desktop.display, "type", "--delay", "5", "clear; seq 1 4000 | paste -sd ' '\n")
        time.sleep(1.0)
        wait_until_rest(page, timeout=30)
        seen = canvas_pixels(page)
        host = grab_screen(stack.desktop.display)
        assert seen.shape == host.shape
        exact = float((seen == host).all(axis=2).mean())
        assert exact == 1.0, f"only {exact:.4%} of pixels are exact"
        assert page.evaluate("window.jisekiStats.resumes || 0") == resumes  # the link never broke
    finally:
        page.close()


def test_keys_typed_across_a_stall_arrive_once_in_order_none_held(  # type: ignore[no-untyped-def]
    shaped_context, stack: DemoStack, link: Shaper
) -> None:
    page = open_shaped_viewer(shaped_context, link)
    target = Path("/tmp") / ("jiseki_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10)))
    try:
        wait_until_rest(page, timeout=30)
        page.mouse.click(*page_point(page, 300, 300))  # the terminal (demo desktop, top left)
        for ch in f"cat > {target}":
            page.keyboard.press(_KEYS[ch])
        page.keyboard.press("Enter")
        wait_until_rest(page, timeout=30)
        resumes = page.evaluate("window.jisekiStats.resumes || 0")
        text = "".join(secrets.choice(string.ascii_lowercase + " ") for _ in range(40))
        for i, ch in enumerate(text):  # 10 keys/s for 4 s, the link stalled for 2 s from 1 s in
            if i == 10:
                link.stall(2.0)
            page.keyboard.press(_KEYS[ch])
            time.sleep(0.1)
        page.keyboard.press("Enter")
        page.keyboard.press("Control+KeyD")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (target.exists() and target.read_text().endswith("\n")):
            time.sleep(0.1)
        assert target.read_text() == text + "\n"  # every key once, in order
        wait_until_rest(page, timeout=30)
        assert keys_held(stack.desktop.display) == []  # no key left pressed on the host
        assert page.evaluate("window.jisekiStats.resumes || 0") == resumes  # the link never broke
    finally:
        page.close()
        target.unlink(missing_ok=True)


def test_the_session_carries_on_after_a_stall_without_a_new_login(  # type: ignore[no-untyped-def]
    shaped_context, stack: DemoStack, link: Shaper
) -> None:
    page = open_shaped_viewer(shaped_context, link)
    try:
        wait_until_rest(page, timeout=30)
        stats = page.evaluate("({s: window.jisekiStats.sessions, r: window.jisekiStats.resumes || 0})")
        frames = page.evaluate("window.jisekiStats.framesDrawn")
        link.stall(2.0)
        # Something changes on the host while nothing gets through.
        xdotool(stack.desktop.display, "mousemove", "300", "300", "click", "1")
        xdotool(stack.desktop.display, "type", "--delay", "20", "echo after the stall\n")
        assert link.stalled()
        assert page.evaluate("window.jisekiStats.framesDrawn") == frames  # nothing came during it
        wait_for(page, f"window.jisekiStats.framesDrawn > {frames}", timeout=20)
        wait_until_rest(page, timeout=30)
        assert page.evaluate("window.jisekiStats.state") == "connected"
        after = page.evaluate("({s: window.jisekiStats.sessions, r: window.jisekiStats.resumes || 0})")
        assert after == stats  # the same session, not even a resume: no new login, no reconnection
        seen, host = canvas_pixels(page), grab_screen(stack.desktop.display)
        assert np.array_equal(seen, host)
    finally:
        page.close()
