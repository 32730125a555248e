"""End to end, video path (issue 16): a window playing moving pictures reaches Chromium as a video
stream decoded by WebCodecs, the rest of the screen (text) stays lossless meanwhile, and once the
video stops the viewer's framebuffer equals the host screen exactly."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from jiseki.demo.run import DemoStack

from .conftest import grab_screen, needs_desktop, xdotool
from .test_display import assert_exact
from .test_viewer import canvas_pixels, open_viewer, wait_for, wait_until_rest

pytestmark = [pytest.mark.e2e, needs_desktop]

VIDEO = (120, 640, 480, 270)  # x, y, w, h asked for (the window manager places it): below the terminal
SECONDS = 5


def window_frame(display: str, name: str) -> tuple[int, int, int, int]:
    """Where the window manager put the window: its client area grown by the frame and title bar."""
    wid = xdotool(display, "search", "--sync", "--name", f"^{name}$").split()[0]
    geo = dict(line.split("=", 1) for line in xdotool(display, "getwindowgeometry", "--shell", wid).split())
    x, y, w, h = (int(geo[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return x - 8, y - 40, w + 16, h + 48


def test_moving_pictures_travel_as_video_then_end_exact(staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_viewer(staff_context, stack)
    player = None
    try:
        wait_until_rest(page)
        assert page.evaluate("window.jisekiStats.videoFlags") & 0x01, "Chromium here decodes H.264"
        player = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.video_window", *map(str, VIDEO), str(SECONDS)],
            env=stack.desktop.env(),
        )
        wait_for(page, "window.jisekiStats.video.frames > 25", timeout=SECONDS + 10)
        video = page.evaluate("window.jisekiStats.video")
        assert video["errors"] == 0 and video["streams"] >= 1 and video["keyframes"] >= 1, video

        # While the video plays, everything outside its window is exactly the host's (lossless).
        seen = canvas_pixels(page)
        host = grab_screen(stack.desktop.display)
        # (The window's title bar may have gone as JPEG with the first pictures, as before video:
        # it is refined at rest like any JPEG.)
        x, y, w, h = window_frame(stack.desktop.display, "video")
        outside = np.ones(host.shape[:2], dtype=bool)
        outside[y : y + h, x : x + w] = False
        differ = ((seen != host).any(axis=2)) & outside
        where = np.argwhere(differ)[:5].tolist()
        assert not differ.any(), f"{differ.sum()} pixels differ outside the video, e.g. {where}"

        # The video stops: the stream ends and the area is refined losslessly.
        wait_for(page, "window.jisekiStats.ops.VIDEO_END > 0", timeout=SECONDS + 10)
        wait_until_rest(page)
        assert_exact(page, stack)
        assert page.evaluate("window.jisekiStats.video.errors") == 0
    finally:
        if player is not None:
            player.terminate()
            player.wait(5)
        page.close()
