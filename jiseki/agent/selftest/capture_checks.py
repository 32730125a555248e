"""The capture checks: how the screen is read and how fast (capture), and that it is read right,
pixel for pixel (picture)."""

from __future__ import annotations

import time

from jiseki.i18n import N_
from jiseki.protocol import Rect

from ..capture.base import Capture, MoveHint
from .checks import CheckResult, Note, Status
from .desk import PROBE_COLOURS, Desk, wait_to_see

MIN_FPS = 10.0  # below this a session's picture visibly stutters
DAMAGE_TIMEOUT = 1.0


def _overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _damage_after_repaint(capture: Capture, desk: Desk, moves: list[MoveHint]) -> bool | None:
    """True when the backend reported damage over the repainted probe window; None when it cannot
    tell at all (damage() is None: the session compares frames instead)."""
    if desk.probe is not None:
        desk.probe.fill(PROBE_COLOURS[0])  # a known start, so the next fill really changes pixels
    capture.grab()
    if capture.damage() is None:
        return None
    moves.extend(capture.moves())
    if desk.probe is None:
        return False
    desk.probe.fill(PROBE_COLOURS[1])
    deadline = time.monotonic() + DAMAGE_TIMEOUT
    while time.monotonic() < deadline:
        capture.grab()  # some backends (DXGI) learn of damage only with a frame
        rects = capture.damage() or []
        moves.extend(capture.moves())
        if any(_overlaps(r, desk.probe.rect) for r in rects):
            return True
        time.sleep(0.02)
    return False


def check_capture(desk: Desk, seconds: float) -> CheckResult:
    capture = desk.capture
    if capture is None:
        return CheckResult("capture", Status.FAIL, Note(N_("could not start: {error}"), {"error": desk.capture_error}))
    method = capture.method
    fallback = getattr(capture, "fallback_reason", None)  # e.g. DXGI unavailable, GDI used instead
    moves: list[MoveHint] = []
    damage = _damage_after_repaint(capture, desk, moves)

    frames, shape_ok = 0, True
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds or frames == 0:
        frame = capture.grab()
        shape_ok = shape_ok and frame.shape == (capture.height, capture.width, 4)
        frames += 1
        capture.damage()  # taken as the session does, so hints do not pile up
        moves.extend(capture.moves())
    fps = frames / max(elapsed, 1e-6)

    figures: dict[str, object] = {
        "method": method,
        "fallback_reason": fallback,
        "width": capture.width,
        "height": capture.height,
        "frames_per_second": round(fps, 1),
        "damage_seen": damage,
        "moves_seen": bool(moves),
    }
    notes: list[Note] = []
    if fallback:
        notes.append(Note(N_("fallback: {reason}"), {"reason": fallback}))
    if damage is None:
        notes.append(Note(N_("damage rectangles: not reported by this method (frames are compared instead)")))
    elif damage:
        notes.append(Note(N_("damage rectangles: seen for the repainted probe window")))
    else:
        notes.append(Note(N_("damage rectangles: none reported for the repainted probe window")))
    if moves:
        notes.append(Note(N_("move hints: seen ({count})"), {"count": len(moves)}))
    else:
        notes.append(Note(N_("move hints: none seen (not reported by this method, or nothing moved)")))

    detail = Note(
        N_("{method}, {fps} frames/s at {width}x{height}"),
        {"method": method, "fps": fps, "width": capture.width, "height": capture.height},
    )
    status = Status.PASS
    if not shape_ok:
        status = Status.FAIL
        notes.insert(0, Note(N_("a grab did not have the size of the desktop")))
    elif fps < MIN_FPS:
        status = Status.WARN
        notes.insert(0, Note(N_("fewer than {min} frames/s: the remote picture will stutter"), {"min": MIN_FPS}))
    return CheckResult("capture", status, detail, figures, tuple(notes))


def check_picture(desk: Desk) -> CheckResult:
    if desk.capture is None:
        return CheckResult("picture", Status.FAIL, Note(N_("needs the screen capture, which could not start")))
    if desk.probe is None:
        return CheckResult(
            "picture", Status.FAIL, Note(N_("could not open the probe window: {error}"), {"error": desk.probe_error})
        )
    rect = desk.probe.rect
    notes: list[Note] = []
    colours = []
    for bgr in PROBE_COLOURS:
        desk.probe.fill(bgr)
        seen = wait_to_see(desk.capture, rect, bgr)
        colours.append({"expected": f"#{bgr[2]:02X}{bgr[1]:02X}{bgr[0]:02X}", "wrong_pixels": seen.wrong_pixels})
        if not seen.exact:
            notes.append(
                Note(
                    N_("{expected} not seen exactly: {wrong} of {total} pixels differ (one is {seen})"),
                    {
                        "expected": colours[-1]["expected"],
                        "wrong": seen.wrong_pixels,
                        "total": seen.total_pixels,
                        "seen": seen.sample,
                    },
                )
            )
    figures: dict[str, object] = {"rect": [rect.x, rect.y, rect.w, rect.h], "colours": colours}
    where = {"x": rect.x, "y": rect.y, "w": rect.w, "h": rect.h}
    if notes:
        return CheckResult(
            "picture", Status.FAIL, Note(N_("the probe window is not seen as painted"), where), figures, tuple(notes)
        )
    return CheckResult(
        "picture", Status.PASS, Note(N_("2 colours seen pixel-exact in {w}x{h} at ({x}, {y})"), where), figures
    )
