"""The display benchmark's phases on one viewer: idle, scroll, typing, drag, a page change, a drop.

`Viewer` is a page showing one stack and how to read its figures; `run_phases` runs every phase on
it and returns a `StackResult` (a `Phase` each: frames, bytes, CPU of the server processes and of
Chromium, key -> echo latencies, pixel exactness against the host screen; notes for the page change
and the drop). With `PY_SPY` set (`--py-spy DIR`), a py-spy profile of each jiseki server process per
phase is written there.
"""

from __future__ import annotations

import base64
import io
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
from PIL import Image
from playwright.sync_api import Page

from tests.e2e.conftest import grab_screen

from .page_probe import OPS_JS, key_latencies, page_clock
from .shaper import Shaper
from .workload import TYPING_POINT, Workload, keys_held

TYPED = "the quick brown fox jumps over the lazy dog "


@dataclass
class Phase:
    seconds: float
    frames: int
    bytes: int
    server_cpu: float
    browser_cpu: float
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)
    exact: float | None = None  # fraction of pixels equal to the host's, 1 s after rest
    ops: dict[str, int] = field(default_factory=dict)  # jiseki: operations drawn, by kind and codec

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    @property
    def kbps(self) -> float:
        return self.bytes * 8 / 1000 / self.seconds


@dataclass
class StackResult:
    name: str
    phases: dict[str, Phase] = field(default_factory=dict)
    # first picture, page change and drop figures; bytes over the link (shaper's counters)
    notes: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Lengths:
    """Phase lengths in seconds: shorter under a shaped link, to keep a many-profile run short."""

    scroll: float
    typing: float
    drag: float
    key_interval: float = 0.1  # typing phase: seconds between keys
    drop_typing: float = 3.0
    stall_after: float = 0.5
    stall: float = 2.0
    between: float = 1.0  # seconds without a frame that make "at rest" before a phase starts


@dataclass
class Viewer:
    """A page showing one stack, and how to read its figures."""

    page: Page
    counters_js: str  # -> [frames drawn, bytes received]
    canvas_js: str  # -> the canvas element shown
    server: list[psutil.Process]
    display: str
    pixels_js: str = ""  # -> the canvas holding the remote picture, if not the one shown
    session_js: str = "0"  # -> what changes when the viewer had to start a new session
    reconnects_js: str = "0"  # -> how many times its connection broke and was made again
    shaper: Shaper | None = None


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def browser_procs() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name().lower()]


def _label(p: psutil.Process) -> str:
    try:
        cmd = p.cmdline()
    except psutil.NoSuchProcess:
        return "gone"
    return next((part for part in cmd if part in ("agent", "gateway")), p.name())


# `--py-spy DIR` (set by display_bench.main()): a py-spy profile (collapsed stacks) of each server
# process per phase of jiseki.
PY_SPY: Path | None = None


def _start_profiles(v: Viewer, phase: str) -> list[subprocess.Popen[bytes]]:
    if PY_SPY is None or phase == "" or not v.server or _label(v.server[0]) not in ("agent", "gateway"):
        return []
    exe = shutil.which("py-spy") or "py-spy"
    return [
        subprocess.Popen(
            [exe, "record", "-p", str(p.pid), "-r", "250", "-f", "raw", "-o", str(PY_SPY / f"{_label(p)}-{phase}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in v.server
    ]


def _stop_profiles(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        proc.wait(10)


def measure(v: Viewer, seconds: float, action: Callable[[], object] | None = None, phase: str = "") -> Phase:
    profiles = _start_profiles(v, phase)
    before = v.page.evaluate(v.counters_js)
    ops0 = v.page.evaluate(OPS_JS)
    cpu0, bcpu0 = cpu_seconds(v.server), cpu_seconds(browser_procs())
    each0 = [cpu_seconds([p]) for p in v.server]
    t0 = time.monotonic()
    if action is not None:
        action()
    remaining = seconds - (time.monotonic() - t0)
    if remaining > 0:
        time.sleep(remaining)
    elapsed = time.monotonic() - t0
    _stop_profiles(profiles)
    after = v.page.evaluate(v.counters_js)
    ops1 = v.page.evaluate(OPS_JS)
    by_process: dict[str, float] = {}
    for p, c0 in zip(v.server, each0, strict=True):
        by_process[_label(p)] = by_process.get(_label(p), 0.0) + cpu_seconds([p]) - c0
    return Phase(
        seconds=elapsed,
        frames=after[0] - before[0],
        bytes=after[1] - before[1],
        server_cpu=cpu_seconds(v.server) - cpu0,
        browser_cpu=cpu_seconds(browser_procs()) - bcpu0,
        cpu_by_process=by_process,
        ops={k: ops1[k] - ops0.get(k, 0) for k in ops1},
    )


def settle(v: Viewer, quiet: float = 1.0, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last, since = v.page.evaluate(v.counters_js)[0], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = v.page.evaluate(v.counters_js)[0]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def exactness(v: Viewer) -> float:
    """Fraction of the canvas's pixels exactly equal to the host screen's, now."""
    url = v.page.evaluate(f"({v.pixels_js or v.canvas_js}).toDataURL('image/png')")
    seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    host = host_screen(v.display)
    if seen.shape != host.shape:
        return 0.0
    return float((seen == host).all(axis=2).mean())


def host_screen(display: str) -> np.ndarray:
    """RGB of the host screen; through plain XGetImage where mss refuses the server's visual (Xvnc)."""
    try:
        return grab_screen(display)
    except Exception:  # mss.exception.ScreenShotError
        from Xlib import X
        from Xlib import display as xdisplay

        d = xdisplay.Display(display)
        try:
            root = d.screen().root
            g = root.get_geometry()
            raw = root.get_image(0, 0, g.width, g.height, X.ZPixmap, 0xFFFFFFFF).data
        finally:
            d.close()
        bgrx = np.frombuffer(raw, dtype=np.uint8).reshape(g.height, g.width, 4)
        return bgrx[..., 2::-1].copy()


def page_point(v: Viewer, x: int, y: int) -> tuple[float, float]:
    left, top, sx, sy = v.page.evaluate(
        f"(() => {{ const c = {v.canvas_js}; const r = c.getBoundingClientRect();"
        " return [r.left, r.top, r.width / c.width, r.height / c.height]; })()"
    )
    return left + (x + 0.5) * sx, top + (y + 0.5) * sy


def focus_terminal(v: Viewer, quiet: float = 1.0) -> None:
    """Click into the terminal through the page (outside the typing phase: focusing a window
    redraws title bars, which is not typing)."""
    v.page.mouse.click(*page_point(v, *TYPING_POINT))
    time.sleep(0.5)
    settle(v, quiet)


def type_in_page(v: Viewer, seconds: float, tick: Callable[[float], None] | None = None, interval: float = 0.1) -> str:
    """10 characters/s (one per `interval`) through the browser's keyboard events, like a person
    typing; returns the text typed. `tick` is called with the seconds elapsed before each key."""
    v.page.evaluate("window.__keyTimes = []; window.__frameTimes = []")
    start = time.monotonic()
    end = start + seconds
    i = 0
    while time.monotonic() < end:
        if tick is not None:
            tick(time.monotonic() - start)
        ch = TYPED[i % len(TYPED)]
        v.page.keyboard.press("Space" if ch == " " else ch)
        i += 1
        time.sleep(max(0.0, interval - 0.005))
    return "".join(TYPED[j % len(TYPED)] for j in range(i))


def page_change(v: Viewer, workload: Workload, quiet: float = 1.0) -> dict[str, float | None]:
    """The terminal clears and prints a full page at once: time until the last frame drawn before
    the picture rests (1 s without frames), and whether it then equals the host's screen exactly.
    Nothing else changes meanwhile, so from that last frame on the picture is the final one."""
    settle(v, quiet)
    v.page.evaluate("window.__frameTimes = []")
    clock = page_clock(v.page)
    t0 = time.monotonic()
    workload.change_page()
    time.sleep(0.5)
    settle(v, timeout=15.0)
    frames = [f for f in v.page.evaluate("window.__frameTimes") if f >= t0 * 1000 + clock]
    exact = exactness(v)
    shown = (max(frames) - (t0 * 1000 + clock)) / 1000 if frames else None
    return {
        "page: shown s": shown,
        "page: exact pixels at rest %": 100 * exact,
        "page: exactly shown s": shown if exact == 1.0 else None,
    }


def drop(v: Viewer, workload: Workload, lengths: Lengths) -> dict[str, float | None]:
    """Typing with a stall of the link in the middle (without a link emulator: none, the figures
    are those of plain typing)."""
    # Focused from the host: after the drag, x11vnc clicks where xdotool left the X pointer when the
    # page clicks where it clicked before (the title bar of the dragged window: keys went to `less`).
    workload.focus_terminal()
    settle(v, lengths.between)
    logged = len(workload.keys_logged())
    session = v.page.evaluate(v.session_js)
    reconnects = v.page.evaluate(v.reconnects_js)
    clock = page_clock(v.page)
    stalled: list[float] = []

    def tick(elapsed: float) -> None:
        if v.shaper is not None and not stalled and elapsed >= lengths.stall_after:
            v.shaper.stall(lengths.stall)
            stalled.append(time.monotonic())

    typed = type_in_page(v, lengths.drop_typing, tick)
    time.sleep(0.5)
    settle(v, timeout=15.0)
    received = workload.keys_logged()[logged:].decode("utf-8", "replace")
    out: dict[str, float | None] = {
        "drop: keys typed": len(typed),
        "drop: keys received exactly once, in order": float(received == typed),
        "drop: keys lost": max(0, len(typed) - len(received)),
        "drop: keys extra": max(0, len(received) - len(typed)),
        "drop: keys held after": len(keys_held(v.display)),
        "drop: same session": float(v.page.evaluate(v.session_js) == session),
        "drop: reconnections": v.page.evaluate(v.reconnects_js) - reconnects,
        "drop: s from stall end to next frame": None,
    }
    if stalled:
        end = (stalled[0] + lengths.stall) * 1000 + clock
        after = [f for f in v.page.evaluate("window.__frameTimes") if f >= end]
        out["drop: s from stall end to next frame"] = (min(after) - end) / 1000 if after else None
    return out


def run_phases(v: Viewer, workload: Workload, name: str, lengths: Lengths) -> StackResult:
    result = StackResult(name)
    settle(v, lengths.between)
    result.phases["idle"] = measure(v, 3.0, phase="idle")
    scroll = measure(v, lengths.scroll + 0.5, lambda: workload.scroll(lengths.scroll), "scroll")
    time.sleep(1.0)  # the scroller stopped 0.5 s before the end of the phase: 1.5 s of rest
    scroll.exact = exactness(v)
    result.phases["scroll"] = scroll
    focus_terminal(v, lengths.between)
    typing = measure(
        v, lengths.typing + 0.5, lambda: type_in_page(v, lengths.typing, interval=lengths.key_interval), "typing"
    )
    p = v.shaper.profile if v.shaper is not None else None
    typing.latency_ms = key_latencies(v.page, 0.0 if p is None else max(0.0, p.rtt - 2 * p.jitter) * 1000)
    result.phases["typing"] = typing
    settle(v, lengths.between)
    drag = measure(v, lengths.drag + 0.5, lambda: workload.drag(lengths.drag), "drag")
    time.sleep(1.0)
    drag.exact = exactness(v)
    result.phases["drag"] = drag
    result.notes.update(page_change(v, workload, lengths.between))
    result.notes.update(drop(v, workload, lengths))
    if v.shaper is not None:
        result.notes["link bytes down"] = v.shaper.bytes["down"]
        result.notes["link bytes up"] = v.shaper.bytes["up"]
    return result
