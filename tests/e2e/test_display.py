"""End to end, display path: scrolling and window moves travel as COPY, photographs as JPEG,
and after the screen rests the viewer's canvas equals the host screen exactly."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from jiseki.demo.run import DemoStack

from .conftest import grab_screen, needs_desktop, xdotool
from .test_viewer import canvas_pixels, open_viewer, wait_for, wait_until_rest

pytestmark = [pytest.mark.e2e, needs_desktop]

PHOTO = (120, 700, 480, 270)  # x, y, w, h: below the terminal, left of the notice window


def ops(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(page.evaluate("window.jisekiStats.ops"))


def assert_exact(page, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    seen = canvas_pixels(page)
    host = grab_screen(stack.desktop.display)
    exact = (seen == host).all(axis=2)
    assert exact.all(), f"{(~exact).sum()} pixels differ, e.g. at {np.argwhere(~exact)[:5].tolist()}"


def test_photo_scroll_and_move_end_exact(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    photo = None
    try:
        wait_until_rest(page)
        display = stack.desktop.display
        env = stack.desktop.env()

        # A photographic window appears: sent as JPEG first, refined losslessly once at rest.
        before = ops(page)
        photo = subprocess.Popen([sys.executable, "-m", "tests.e2e.photo_window", *map(str, PHOTO)], env=env)
        wait_for(page, f"window.jisekiStats.ops.JPEG > {before['JPEG']}")
        wait_until_rest(page)
        assert_exact(page, stack)

        # Text scrolls in the terminal: the shift travels as COPY, only new lines as images.
        before = ops(page)
        xdotool(display, "mousemove", "300", "300", "click", "1")
        # Slowly enough that the terminal scrolls line by line instead of redrawing at once.
        xdotool(display, "type", "--delay", "20", "for i in $(seq 1 40); do echo line $i; sleep 0.05; done\n")
        wait_for(page, f"window.jisekiStats.ops.COPY > {before['COPY']}")
        wait_until_rest(page)
        assert_exact(page, stack)

        # The photo window is moved: a 2-D COPY, and the picture is exact again.
        before = ops(page)
        wid = xdotool(display, "search", "--name", "^photo$").split()[0]
        for i in range(1, 6):
            xdotool(display, "windowmove", wid, str(PHOTO[0] + 23 * i), str(PHOTO[1] - 17 * i))
            time.sleep(0.1)
        wait_for(page, f"window.jisekiStats.ops.COPY > {before['COPY']}")
        wait_until_rest(page)
        assert_exact(page, stack)
    finally:
        if photo is not None:
            photo.terminate()
            photo.wait(5)
        page.close()


def test_host_cursor_shape_reaches_the_page(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    try:
        xdotool(stack.desktop.display, "mousemove", "1500", "1000")  # over the root window
        xdotool(stack.desktop.display, "mousemove", "300", "200")  # over the terminal: the I-beam
        wait_for(page, "document.getElementById('screen').style.cursor.startsWith('url(')")
    finally:
        page.close()
