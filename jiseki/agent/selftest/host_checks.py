"""The checks of what the agent does to the PC itself: clipboard round trip, privacy curtain, lock.
Each puts back what it changed in a `finally`, so Ctrl+C in the middle leaves the PC as it was
(the lock excepted: locking is what `--lock` asks for)."""

from __future__ import annotations

import time
from collections.abc import Callable

from jiseki.i18n import N_

from ..clipboard.base import HostClipboard
from ..host.base import HostControl
from .checks import CheckResult, Note, Status
from .desk import PROBE_COLOURS, Desk, describe, look

CLIPBOARD_SAMPLE = "自席PCの動作確認：クリップボード（日本語テキスト）✓"
CLIPBOARD_TIMEOUT = 1.0
CURTAIN_SETTLE = 0.7  # the curtain windows must be up and painted before the capture is trusted
LOCK_TIMEOUT = 5.0


def _read_until(clipboard: HostClipboard, want: str) -> str | None:
    deadline = time.monotonic() + CLIPBOARD_TIMEOUT
    while True:
        got = clipboard.get_text()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def check_clipboard(make_clipboard: Callable[[], HostClipboard]) -> CheckResult:
    try:
        clipboard = make_clipboard()
        before = clipboard.get_text()
    except Exception as exc:  # a backend that cannot start is this check's finding
        return CheckResult("clipboard", Status.FAIL, Note(N_("could not start: {error}"), {"error": describe(exc)}))
    try:
        try:
            clipboard.set_text(CLIPBOARD_SAMPLE)
            got = _read_until(clipboard, CLIPBOARD_SAMPLE)
        finally:
            # What was there before; a clipboard without text (a picture, nothing) is left empty.
            clipboard.set_text(before if before is not None else "")
        restored = _read_until(clipboard, before or "") == (before or "")
    finally:
        clipboard.close()
    figures: dict[str, object] = {"sent": CLIPBOARD_SAMPLE, "received": got, "restored": restored}
    notes = [] if restored else [Note(N_("the clipboard's previous text could not be put back"))]
    if before is None:
        notes.append(Note(N_("the clipboard held no text before the check; it is left empty")))
    chars = {"chars": len(CLIPBOARD_SAMPLE)}
    if got != CLIPBOARD_SAMPLE:
        notes.insert(0, Note(N_("read back: {text}"), {"text": repr(got)}))
        return CheckResult(
            "clipboard",
            Status.FAIL,
            Note(N_("Japanese text did not survive the round trip"), chars),
            figures,
            tuple(notes),
        )
    status = Status.PASS if restored else Status.WARN
    detail = Note(N_("Japanese text ({chars} characters) set and read back unchanged"), chars)
    return CheckResult("clipboard", status, detail, figures, tuple(notes))


def check_curtain(desk: Desk, host: HostControl, platform: str) -> CheckResult:
    if desk.capture is None or desk.probe is None:
        return CheckResult("curtain", Status.FAIL, Note(N_("needs the screen capture and the probe window")))
    bgr = PROBE_COLOURS[0]
    desk.probe.fill(bgr)
    try:
        done = host.set_curtain(True)
        time.sleep(CURTAIN_SETTLE)
        seen = [look(desk.capture, desk.probe.rect, bgr) for _ in range(2)]
    finally:
        released = host.set_curtain(False)
    visible = all(s.exact for s in seen)
    figures: dict[str, object] = {"reported": done, "released": released, "probe_visible_under_curtain": visible}
    reported = Note(N_("the host control reported: {done}"), {"done": done})
    if "monitor_curtained" in done:
        if visible:
            detail = Note(N_("the monitor was curtained and the capture still saw the desktop"))
            return CheckResult("curtain", Status.PASS, detail, figures, (reported,))
        hidden = Note(N_("the curtain hides the desktop from the capture too: the remote user would see it black"))
        return CheckResult("curtain", Status.FAIL, hidden, figures, (reported,))
    if platform == "windows":  # the product promises a curtain on Windows
        missing = Note(N_("no curtain: capture exclusion needs Windows 10 version 2004 or later"))
        return CheckResult("curtain", Status.FAIL, missing, figures, (reported,))
    unsupported = Note(
        N_("not supported on {platform}: no privacy screen, at most the monitor is switched off"),
        {"platform": platform},
    )
    return CheckResult("curtain", Status.SKIP, unsupported, figures, (reported,))


def check_lock(host: HostControl) -> CheckResult:
    start = time.monotonic()
    if not host.lock():
        return CheckResult("lock", Status.FAIL, Note(N_("the lock command failed (see agent.lock_command)")))
    locked: bool | None = None
    while time.monotonic() - start < LOCK_TIMEOUT:
        locked = host.state().locked
        if locked:
            break
        time.sleep(0.1)
    ms = round((time.monotonic() - start) * 1000)
    figures: dict[str, object] = {"locked": locked, "milliseconds": ms}
    if locked:
        return CheckResult("lock", Status.PASS, Note(N_("locked within {ms} ms"), {"ms": ms}), figures)
    if locked is None:
        cannot = Note(N_("locked, but this platform cannot tell whether the desktop is locked"))
        return CheckResult("lock", Status.WARN, cannot, figures)
    not_locked = Note(N_("not reported locked within {s} s"), {"s": int(LOCK_TIMEOUT)})
    return CheckResult("lock", Status.FAIL, not_locked, figures)
