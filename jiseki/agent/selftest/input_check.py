"""The input check: keys and clicks injected through the input backend arrive in the probe window as
what was sent, in order (keys compared as HID usages, clicks as desktop positions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from jiseki.i18n import N_
from jiseki.protocol import BUTTON_LEFT, Rect
from jiseki.protocol.keycodes import dom_code_to_usage

from ..input.base import InputSink
from .checks import CheckResult, Note, Status
from .desk import Desk, describe
from .window import ProbeWindow

ARRIVAL_TIMEOUT = 2.0
T = TypeVar("T")


def _u(code: str) -> int:
    return dom_code_to_usage()[code]


def key_sequence() -> list[tuple[int, bool]]:
    """Letters, Shift+A, Enter, and two keys only a JIS keyboard has (¥ and 変換): (usage, down)."""
    taps = [_u("KeyJ"), _u("KeyS"), _u("KeyK")]
    events = [(u, down) for u in taps for down in (True, False)]
    shift, a = _u("ShiftLeft"), _u("KeyA")
    events += [(shift, True), (a, True), (a, False), (shift, False)]
    events += [(u, down) for u in (_u("Enter"), _u("IntlYen"), _u("Convert")) for down in (True, False)]
    return events


@cache
def _names() -> dict[int, str]:
    return {usage: code for code, usage in sorted(dom_code_to_usage().items(), reverse=True)}


def key_name(usage: int, down: bool) -> str:
    return f"{_names().get(usage, hex(usage))}{'↓' if down else '↑'}"


def click_points(rect: Rect) -> list[tuple[int, int]]:
    """Four points near the corners and the middle: a scaled or offset pointer misses some of them."""
    x0, y0, x1, y1 = rect.x + 10, rect.y + 10, rect.x + rect.w - 11, rect.y + rect.h - 11
    return [(x0, y0), (x1, y0), (rect.x + rect.w // 2, rect.y + rect.h // 2), (x0, y1), (x1, y1)]


def _collect(take: Callable[[], list[T]], wanted: int) -> list[T]:
    got: list[T] = []
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while len(got) < wanted and time.monotonic() < deadline:
        got.extend(take())
        time.sleep(0.02)
    return got + take()


def _missing(sent: list[str], got: list[str]) -> list[str]:
    rest = list(got)
    out = []
    for name in sent:
        if name in rest:
            rest.remove(name)
        else:
            out.append(name)
    return out


def _check_keys(sink: InputSink, probe: ProbeWindow, notes: list[Note], figures: dict[str, object]) -> bool:
    sequence = key_sequence()
    for usage, down in sequence:
        sink.key(usage, down)
    events = _collect(probe.keys, len(sequence))
    sent = [key_name(u, d) for u, d in sequence]
    got = [key_name(e.usage, e.down) for e in events]
    figures.update(keys_sent=sent, keys_received=got, text=probe.text())
    if got == sent:
        return True
    missing, extra = _missing(sent, got), _missing(got, sent)
    if missing:
        notes.append(Note(N_("keys that did not arrive: {keys}"), {"keys": missing}))
    if extra:
        notes.append(Note(N_("keys that arrived but were not sent: {keys}"), {"keys": extra}))
    if not missing and not extra:
        notes.append(Note(N_("keys arrived out of order: {keys}"), {"keys": got}))
    return False


MOVE_SETTLE = 0.05  # seconds; 5 clicks: a quarter of a second in all


def _check_clicks(sink: InputSink, probe: ProbeWindow, notes: list[Note], figures: dict[str, object]) -> bool:
    points = click_points(probe.rect)
    for x, y in points:
        sink.pointer(x, y, 0)
        # The pointer settles before the button goes down, as between a person's move and click: a
        # window system that moves the cursor asynchronously (Wine under load, a remote desktop) can
        # otherwise report the click where the pointer was (one such Wine run sent 1109,450 and saw 810,450).
        time.sleep(MOVE_SETTLE)
        sink.pointer(x, y, BUTTON_LEFT)
        sink.pointer(x, y, 0)
    got = [(c.x, c.y) for c in _collect(probe.clicks, len(points)) if c.button == 1]
    figures.update(clicks_sent=[list(p) for p in points], clicks_received=[list(p) for p in got])
    if got == points:
        return True
    for (x, y), arrived in zip(points, [*got, *[None] * len(points)], strict=False):
        if arrived != (x, y):
            where = "—" if arrived is None else f"({arrived[0]}, {arrived[1]})"
            notes.append(Note(N_("click at ({x}, {y}) arrived at {where}"), {"x": x, "y": y, "where": where}))
    return False


def check_input(desk: Desk, make_input: Callable[[], InputSink]) -> CheckResult:
    probe = desk.probe
    if probe is None:
        return CheckResult(
            "input", Status.FAIL, Note(N_("could not open the probe window: {error}"), {"error": desk.probe_error})
        )
    try:
        sink = make_input()
    except Exception as exc:  # a backend that cannot start is this check's finding
        return CheckResult("input", Status.FAIL, Note(N_("could not start: {error}"), {"error": describe(exc)}))
    notes: list[Note] = []
    figures: dict[str, object] = {}
    try:
        if not probe.focus():
            notes.append(Note(N_("the probe window could not take the keyboard focus")))
        probe.keys(), probe.clicks(), probe.text()  # nothing from before the check
        keys_ok = _check_keys(sink, probe, notes, figures)
        clicks_ok = _check_clicks(sink, probe, notes, figures)
    finally:
        sink.release_all()
        sink.close()
    counts = {"keys": len(key_sequence()), "clicks": len(click_points(probe.rect))}
    if keys_ok and clicks_ok:
        return CheckResult(
            "input", Status.PASS, Note(N_("{keys} key events and {clicks} clicks arrived as sent"), counts), figures
        )
    return CheckResult(
        "input", Status.FAIL, Note(N_("injected input did not arrive as sent"), counts), figures, tuple(notes)
    )
