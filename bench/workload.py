"""The scripted office workload the benchmarks share: a 1920x1080 Xvfb desktop with openbox,
a terminal that scrolls text, and a second window that is dragged around.

Phases (each started by the benchmark, on the host side, so every stack sees the same screen):
  scroll  the terminal prints 3 lines every 50 ms (a long document scrolling)
  typing  characters typed into the terminal (by the viewer page, or by xdotool when recording)
  drag    the second window is dragged along a path with the mouse (xdotool, 50 moves/s)
  page    the terminal clears and prints a full page of text at once (a large change)
  idle    nothing changes
The terminal's program also logs every key it receives (the tty in non-canonical mode, echo on:
what is typed shows as before), so a benchmark can check that keys arrived exactly once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from jiseki.demo.desktop import XTERM_FONT, VirtualDesktop
from jiseki.demo.processes import ProcessGroup

SAMPLE = Path(__file__).parent.parent / "jiseki" / "demo" / "sample.txt"

SCROLLER = r"""
import os, sys, termios, threading, time
workdir, seconds, text = sys.argv[1], float(sys.argv[2]), open(sys.argv[3], encoding="utf-8").read().splitlines()
scroll, page, keylog = (os.path.join(workdir, name) for name in ("scroll-now", "page-now", "keys.log"))
attrs = termios.tcgetattr(0)
attrs[3] &= ~termios.ICANON  # every key at once, still echoed by the tty
termios.tcsetattr(0, termios.TCSANOW, attrs)

def log_keys():
    with open(keylog, "ab", buffering=0) as out:
        while chunk := os.read(0, 1024):
            out.write(chunk)

threading.Thread(target=log_keys, daemon=True).start()
n = pages = 0
while True:
    while not os.path.exists(scroll) and not os.path.exists(page):
        time.sleep(0.01)
    if os.path.exists(page):
        os.unlink(page)
        pages += 1
        lines = [f"{pages:4d} {n + i:6d}  {text[(n + 7 * pages + i) % len(text)]}"[:99] for i in range(44)]
        sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines))
        sys.stdout.flush()
        continue
    with open(scroll, encoding="utf-8") as fh:
        length = float(fh.read() or seconds)
    os.unlink(scroll)
    end = time.monotonic() + length
    while time.monotonic() < end:
        for _ in range(3):
            print(f"{n:6d}  {text[n % len(text)]}", flush=True)
            n += 1
        time.sleep(0.05)
"""

# The dragged window: 70x22 cells at (1150, 500); its title bar is grabbed at DRAG_GRIP.
DRAG_GEOMETRY = "70x22+1150+500"
DRAG_GRIP = (1300, 510)
TYPING_POINT = (400, 300)  # inside the terminal


class Workload:
    def __init__(self, desktop: VirtualDesktop, group: ProcessGroup, workdir: Path) -> None:
        self.desktop = desktop
        self.workdir = workdir
        self.trigger = workdir / "scroll-now"
        self.page_trigger = workdir / "page-now"
        self.keylog = workdir / "keys.log"
        self.script = workdir / "scroller.py"
        self.script.write_text(SCROLLER, "utf-8")
        self.seconds = 0.0
        self._group = group
        self.extra_server: list[psutil.Process] = []  # server processes outside the stack (Xvnc draws and encodes)

    def start(self, scroll_seconds: float) -> None:
        self.seconds = scroll_seconds
        args = [str(self.script), str(self.workdir), str(scroll_seconds), str(SAMPLE)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": self.desktop.env()}
        self._group.start(
            "workload",
            ["xterm", *XTERM_FONT, "-geometry", "100x45+20+20", "-title", "workload", "-e", sys.executable, *args],
            **quiet,
        )
        self._group.start(
            "dragged",
            ["xterm", *XTERM_FONT, "-geometry", DRAG_GEOMETRY, "-title", "dragged", "-e", "less", str(SAMPLE)],
            # Keys that land there by mistake must not open an editor on the repository's file (`v`).
            **{**quiet, "env": {**self.desktop.env(), "LESSSECURE": "1"}},
        )
        time.sleep(1.5)

    def scroll(self, seconds: float | None = None) -> None:
        """Scroll for `seconds` (default: the length given at start)."""
        tmp = self.trigger.with_suffix(".tmp")
        tmp.write_text("" if seconds is None else str(seconds), "utf-8")
        tmp.rename(self.trigger)  # whole, or the scroller could read it empty

    def change_page(self) -> None:
        """The terminal clears and prints a new full page at once."""
        self.page_trigger.touch()

    def keys_logged(self) -> bytes:
        """Every byte the terminal's program has received from the keyboard so far."""
        return self.keylog.read_bytes() if self.keylog.exists() else b""

    def focus_terminal(self) -> None:
        self.xdotool("mousemove", *map(str, TYPING_POINT), "click", "1")

    def type_text(self, seconds: float) -> None:
        """Type from the host side (recording); the display benchmark types through the page."""
        self.focus_terminal()
        count = int(seconds * 10)
        self.xdotool("type", "--delay", "100", ("the quick brown fox " * 10)[:count])

    def drag(self, seconds: float, steps_per_second: int = 50) -> None:
        """Drag the second window around a rectangle and back to where it started."""
        x0, y0 = DRAG_GRIP
        path = []
        n = int(seconds * steps_per_second)
        for i in range(n):
            phase = i / n
            # Out 400 px to the left and 250 px down, then back: a loop.
            t = phase * 2 if phase < 0.5 else 2 - phase * 2
            path.append((x0 - int(400 * t), y0 + int(250 * t * t)))
        args = ["mousemove", str(x0), str(y0), "mousedown", "1"]
        for x, y in path:
            args += ["mousemove", str(x), str(y), "sleep", f"{1 / steps_per_second:.3f}"]
        args += ["mousemove", str(x0), str(y0), "mouseup", "1"]
        self.xdotool(*args)

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.desktop.env(), check=True)


def start_desktop(group: ProcessGroup, workdir: Path, scroll_seconds: float) -> tuple[VirtualDesktop, Workload]:
    desktop = VirtualDesktop(group)
    desktop.start_x()
    group.start("openbox", ["openbox"], env=desktop.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    workload = Workload(desktop, group, workdir)
    workload.start(scroll_seconds)
    return desktop, workload


def load() -> float:
    return os.getloadavg()[0]


def keys_held(display: str) -> list[int]:
    """Keycodes the X server holds down now (XQueryKeymap). Through libX11 itself: python-xlib keeps
    extension event codes in a table shared by all its connections, and opening Xvnc after Xvfb
    (different codes) fails in its XFIXES setup."""
    x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XQueryKeymap.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(display.encode())
    if not handle:
        raise OSError(f"cannot open display {display}")
    keymap = ctypes.create_string_buffer(32)
    try:
        x11.XQueryKeymap(handle, keymap)
    finally:
        x11.XCloseDisplay(handle)
    return [8 * i + bit for i, byte in enumerate(keymap.raw) for bit in range(8) if byte >> bit & 1]
