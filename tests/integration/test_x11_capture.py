"""The X11 capture on a real Xvfb: pixels read in place from the shared-memory segment equal
mss's own grab, for the whole screen and for a damaged area, and the capture falls back to mss
when the in-place reader is not available."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import mss
import numpy as np
import pytest
from Xlib import display as xdisplay

from jiseki.agent.capture.x11 import X11Capture
from jiseki.demo.desktop import VirtualDesktop
from jiseki.demo.processes import ProcessGroup
from jiseki.protocol import Rect

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb")

W, H = 640, 480


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDesktop]:
    group = ProcessGroup()
    d = VirtualDesktop(group, W, H)
    try:
        d.start_x()
        yield d
    finally:
        group.stop_all()


def paint(d: VirtualDesktop, seed: int) -> None:
    """Rectangles of random colours on the root window."""
    rng = np.random.default_rng(seed)
    conn = xdisplay.Display(d.display)
    root = conn.screen().root
    for _ in range(40):
        gc = root.create_gc(foreground=int(rng.integers(0, 0xFFFFFF)))
        x, y = int(rng.integers(0, W - 20)), int(rng.integers(0, H - 20))
        root.fill_rectangle(gc, x, y, int(rng.integers(1, 200)), int(rng.integers(1, 200)))
    conn.sync()
    conn.close()


def screen(d: VirtualDesktop) -> np.ndarray:
    with mss.MSS(display=d.display) as sct:
        shot = sct.grab(sct.monitors[0])
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(H, W, 4).copy()


@pytest.mark.parametrize("in_place", [True, False])
def test_grabs_equal_the_screen(desktop: VirtualDesktop, in_place: bool) -> None:
    paint(desktop, 1)
    cap = X11Capture(desktop.display)
    try:
        assert np.array_equal(cap.grab(), screen(desktop))
        if not in_place:
            cap._shm, cap._shm_tried = None, True  # mss's public grab from here on
        else:
            assert cap._shm is not None, "MIT-SHM works on Xvfb: the in-place reader is used"
        paint(desktop, 2)
        frame = cap.grab(Rect(50, 60, 300, 200))
        now = screen(desktop)
        assert np.array_equal(frame[60:260, 50:350], now[60:260, 50:350])
        paint(desktop, 3)
        assert np.array_equal(cap.grab(Rect(-10, -10, W + 20, H + 20)), screen(desktop))  # clipped to the screen
        assert np.array_equal(cap.grab(), screen(desktop))
    finally:
        cap.close()
