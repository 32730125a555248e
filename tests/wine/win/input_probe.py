"""The real WindowsInput(Win32Input()) against the selftest's Win32ProbeWindow: what SendInput
injects, read back from the window's own message loop. Mode (argv[1]): keys, text, mouse, latency."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from common import main

KEYBOARD = 0x07 << 16
SHIFT = KEYBOARD | 0xE1
KEYS = {  # name -> HID usage id
    "yen": 0x89,
    "ro": 0x87,
    "henkan": 0x8A,
    "muhenkan": 0x8B,
    "kana": 0x88,
    "hankaku": 0x35,
    "a": 0x04,
    "enter": 0x28,
    "left": 0x50,
    "right_ctrl": 0xE4,
    "numpad_enter": 0x58,
}


def events(got: list[Any]) -> list[list[int]]:
    return [[e.usage, int(e.down), e.native, e.vk] for _t, e in got]


def run() -> dict[str, Any]:
    from jiseki.agent.input.windows import WindowsInput
    from jiseki.agent.selftest.win32_window import Win32ProbeWindow
    from jiseki.agent.win32.input import Win32Input
    from jiseki.protocol import BUTTON_BACK, BUTTON_FORWARD, BUTTON_MIDDLE, BUTTON_RIGHT, Rect

    mode = sys.argv[1]
    api = Win32Input()
    left, top, width, height = api.virtual_screen()
    rect = Rect(0, 0, width, height) if mode == "mouse" else Rect(100, 100, 400, 300)
    probe = Win32ProbeWindow(rect)
    sink = WindowsInput(api)
    out: dict[str, Any] = {"screen": [left, top, width, height]}
    try:
        probe.fill((255, 0, 0))  # blue (BGR)
        out["pixel"] = probe.screen_pixel(rect.x + rect.w // 2, rect.y + rect.h // 2)
        out["focused"] = probe.focus()
        probe.keys(), probe.text(), probe.clicks()
        if mode == "keys":
            for name, uid in KEYS.items():
                usage = KEYBOARD | uid
                sink.key(usage, True)
                sink.key(usage, False)
                out[name] = events(probe.wait_keys(2))
                sink.key(SHIFT, True)
                sink.key(usage, True)
                sink.key(usage, False)
                sink.key(SHIFT, False)
                out[name + "+shift"] = events(probe.wait_keys(4))
                probe.text()
            out["late"] = events(probe.timed_keys())
        elif mode == "text":
            sink.text("日本語😀")
            got = probe.wait_keys(10)
            out["text"] = probe.text()
            out["packets"] = events(got)
        elif mode == "mouse":
            points = [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]
            points += [(1, 1), (width - 2, height - 2), (width // 2, height // 2), (1, height // 2)]
            points += [(x * 97 % width, x * 53 % height) for x in range(3, 15)]
            clicks = []
            for x, y in points:
                sink.pointer(x, y, 1)
                sink.pointer(x, y, 0)
                got = probe.clicks()
                clicks.append([[c.x, c.y, c.button] for c in got])
            out["points"] = points
            out["clicks"] = clicks
            for bit in (BUTTON_MIDDLE, BUTTON_RIGHT, BUTTON_BACK, BUTTON_FORWARD):
                sink.pointer(width // 2, height // 2, bit)
                sink.pointer(width // 2, height // 2, 0)
            out["buttons"] = [[c.x, c.y, c.button] for c in probe.clicks()]
            sink.wheel(0, 120)  # down one notch
            sink.wheel(0, -120)
            sink.wheel(120, 0)  # right
            out["wheel"] = probe.wheel()
        elif mode == "latency":
            a = KEYBOARD | 0x04
            times = []
            for _ in range(50):
                start = time.perf_counter()
                sink.key(a, True)
                got = probe.wait_keys(1)
                if got:
                    times.append((got[0][0] - start) * 1000)
                sink.key(a, False)
                probe.wait_keys(1)
            probe.text()
            out["times_ms"] = times
            out["median_ms"] = statistics.median(times) if times else None
    finally:
        sink.release_all()
        probe.close()
    return out


main(run)
