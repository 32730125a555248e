"""What the desk checks share: the capture and the probe window, opened once, and looking for the
probe's colour in a grab."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np

from jiseki.protocol import Rect

from ..capture.base import Capture
from .window import ProbeWindow

PROBE_W, PROBE_H = 320, 200
# Two colours unlikely on a desktop, each channel different (a swapped R and B shows as a miss).
PROBE_COLOURS: tuple[tuple[int, int, int], ...] = ((0x30, 0xC0, 0xF0), (0xA0, 0x20, 0x60))  # BGR
SHOW_TIMEOUT = 1.5  # a compositor may need a few frames before a repaint is on the screen


@dataclass
class Desk:
    capture: Capture | None
    capture_error: str
    probe: ProbeWindow | None
    probe_error: str


def probe_rect(capture: Capture | None) -> Rect:
    """The middle of the primary monitor: clear of taskbars and panels along the edges."""
    if capture is None:
        return Rect(100, 100, PROBE_W, PROBE_H)
    m = capture.monitors()[0]
    return Rect(m.x + (m.w - PROBE_W) // 2, m.y + (m.h - PROBE_H) // 2, PROBE_W, PROBE_H)


def open_desk(make_capture: Callable[[], Capture], make_probe: Callable[[Rect], ProbeWindow], stack: ExitStack) -> Desk:
    """Open both, each closed by `stack`; what fails to open is reported by the checks that need it."""
    capture: Capture | None = None
    probe: ProbeWindow | None = None
    capture_error = probe_error = ""
    try:
        capture = make_capture()
        stack.callback(capture.close)
    except Exception as exc:  # any backend error is a result to report, not a crash
        capture_error = describe(exc)
    try:
        probe = make_probe(probe_rect(capture))
        stack.callback(probe.close)
    except Exception as exc:
        probe_error = describe(exc)
    return Desk(capture, capture_error, probe, probe_error)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def hex_colour(bgr: tuple[int, int, int] | np.ndarray) -> str:
    b, g, r = (int(c) for c in bgr[:3])
    return f"#{r:02X}{g:02X}{b:02X}"


@dataclass(frozen=True)
class Seen:
    exact: bool
    wrong_pixels: int
    total_pixels: int
    sample: str  # the colour of the first wrong pixel (or the expected one)


def look(capture: Capture, rect: Rect, bgr: tuple[int, int, int]) -> Seen:
    """Whether every pixel of `rect` in a fresh grab is exactly `bgr`."""
    frame = capture.grab(rect)
    area = frame[max(0, rect.y) : rect.y + rect.h, max(0, rect.x) : rect.x + rect.w, :3]
    total = rect.w * rect.h
    if area.shape[:2] != (rect.h, rect.w):  # the rect is not all inside the capture
        return Seen(False, total, total, "—")
    wrong = np.any(area != np.array(bgr, dtype=np.uint8), axis=2)
    count = int(wrong.sum())
    if count == 0:
        return Seen(True, 0, total, hex_colour(bgr))
    y, x = np.argwhere(wrong)[0]
    return Seen(False, count, total, hex_colour(area[y, x]))


def wait_to_see(capture: Capture, rect: Rect, bgr: tuple[int, int, int]) -> Seen:
    deadline = time.monotonic() + SHOW_TIMEOUT
    while True:
        seen = look(capture, rect, bgr)
        if seen.exact or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)
