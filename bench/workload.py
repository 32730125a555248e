"""The scripted office workload the benchmarks share: a 1920x1080 Xvfb desktop with openbox,
a terminal that scrolls text, and a second window that is dragged around.

Phases (each started by the benchmark, on the host side, so every stack sees the same screen):
  scroll  the terminal prints 3 lines every 50 ms (a long document scrolling)
  typing  characters typed into the terminal (by the viewer page, or by xdotool when recording)
  drag    the second window is dragged along a path with the mouse (xdotool, 50 moves/s)
  idle    nothing changes
"""

from __future__ import annotations

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
import os, sys, time
trigger, seconds, text = sys.argv[1], float(sys.argv[2]), open(sys.argv[3], encoding="utf-8").read().splitlines()
n = 0
while True:
    while not os.path.exists(trigger):
        time.sleep(0.01)
    os.unlink(trigger)
    end = time.monotonic() + seconds
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
        self.trigger = workdir / "scroll-now"
        self.script = workdir / "scroller.py"
        self.script.write_text(SCROLLER, "utf-8")
        self.seconds = 0.0
        self._group = group
        self.extra_server: list[psutil.Process] = []  # server processes outside the stack (Xvnc draws and encodes)

    def start(self, scroll_seconds: float) -> None:
        self.seconds = scroll_seconds
        args = [str(self.script), str(self.trigger), str(scroll_seconds), str(SAMPLE)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": self.desktop.env()}
        self._group.start(
            "workload",
            ["xterm", *XTERM_FONT, "-geometry", "100x45+20+20", "-title", "workload", "-e", sys.executable, *args],
            **quiet,
        )
        self._group.start(
            "dragged",
            ["xterm", *XTERM_FONT, "-geometry", DRAG_GEOMETRY, "-title", "dragged", "-e", "less", str(SAMPLE)],
            **quiet,
        )
        time.sleep(1.5)

    def scroll(self) -> None:
        self.trigger.touch()

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
