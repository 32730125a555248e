"""A window of known colour on the Windows desktop that records what it receives, for the end-to-end
test: runs until the file named by argv[1] exists, writing what arrived to $JISEKI_RESULT as it goes."""

from __future__ import annotations

import json
import os
import sys
import time

from jiseki.agent.selftest.win32_window import Win32ProbeWindow
from jiseki.protocol import Rect

RECT = Rect(200, 150, 640, 400)
COLOUR_BGR = (0xE0, 0x80, 0x20)  # RGB 20 80 E0


def write(result: dict[str, object]) -> None:
    path = os.environ["JISEKI_RESULT"]
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    os.replace(path + ".tmp", path)


def run(stop_file: str) -> None:
    window = Win32ProbeWindow(RECT)
    to_wall = time.time() - time.perf_counter()  # arrival times as the Linux side's clock reads them
    keys: list[list[float]] = []
    clicks: list[list[int]] = []
    text = ""
    try:
        window.fill(COLOUR_BGR)
        focused = window.focus()
        write({"ready": True, "focused": focused, "keys": keys, "clicks": clicks, "text": text})
        while not os.path.exists(stop_file):
            got_keys, got_clicks, got_text = window.timed_keys(), window.clicks(), window.text()
            if got_keys or got_clicks or got_text:
                keys += [[k.usage, int(k.down), k.native, k.vk, t + to_wall] for t, k in got_keys]
                clicks += [[c.x, c.y, c.button] for c in got_clicks]
                text += got_text
                write({"ready": True, "focused": focused, "keys": keys, "clicks": clicks, "text": text})
            time.sleep(0.1)
    finally:
        window.close()


if __name__ == "__main__":
    try:
        run(sys.argv[1])
    except BaseException as exc:
        write({"error": f"{type(exc).__name__}: {exc}"})
        raise
