"""Display benchmark: jiseki beside x11vnc + noVNC (and TigerVNC Xvnc + noVNC when installed),
same workload, same headless Chromium, several runs, medians.

    .venv/bin/python -m bench.display_bench [--runs 3] [--scroll-seconds 9] [--no-peer] [--no-tigervnc]

Desktop and workload: `bench/workload.py` (1920x1080, openbox, a scrolling terminal, a window to
drag). Phases per stack and run:
  idle    3 s  nothing changes on screen
  scroll  N s  the terminal prints 3 lines every 50 ms; then, 1 s after it stops, the viewer's
               canvas is compared with the host screen (pixels exactly equal)
  typing  5 s  the page types 10 characters/s into the terminal, focused by a click before the
               phase (key -> echo latency: from the browser's keydown to the next frame drawn,
               nothing else changes meanwhile)
  drag    5 s  a window is dragged with the mouse (xdotool on the host); exactness 1 s after
Measured in the page: frames drawn (jiseki: updates drawn; noVNC: Display.flip()), bytes received
on the WebSocket; on the host: CPU seconds of each server process (agent + gateway; x11vnc +
websockify; Xvnc + websockify, where Xvnc also does all X drawing) and of Chromium.
Prints a table of medians [min-max] and writes bench/results/display-<time>.json.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page

from jiseki.demo.processes import ProcessGroup
from jiseki.demo.run import DemoStack
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, grab_screen, terminal_context

from .workload import TYPING_POINT, Workload, start_desktop

HERE = Path(__file__).parent
RESULTS = HERE / "results"
NOVNC = Path("/usr/share/novnc")
XVNC = ["Xvnc", "-geometry", "1920x1080", "-depth", "24", "-localhost", "-SecurityTypes", "None", "-AlwaysShared"]
XVNC += ["-nolisten", "tcp", "-noreset"]
TYPED = "the quick brown fox jumps over the lazy dog "

# Counts bytes received on every WebSocket of the page, and records keydown and frame times,
# the same way for every viewer.
INSTRUMENT = """
(() => {
  window.__wsBytes = 0;
  window.__wsByType = {};
  window.__keyTimes = [];
  window.__frameTimes = [];
  window.__frame = (t) => { window.__frameTimes.push(t ?? performance.now()); };
  window.addEventListener('keydown', () => window.__keyTimes.push(performance.now()), true);
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      const d = e.data;
      const n = d.byteLength ?? d.size ?? d.length ?? 0;
      window.__wsBytes += n;
      if (d instanceof ArrayBuffer && n > 0) {  // bytes by first byte (jiseki: the message type)
        const k = new Uint8Array(d, 0, 1)[0];
        window.__wsByType[k] = (window.__wsByType[k] ?? 0) + n;
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""

NOVNC_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<style>body{margin:0}#screen{width:100vw;height:100vh}</style></head>
<body><div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
window.benchFrames = 0;
const rfb = new RFB(document.getElementById('screen'), 'ws://127.0.0.1:%WSPORT%/websockify', {});
rfb.scaleViewport = true;
const flip = rfb._display.flip.bind(rfb._display);
rfb._display.flip = (...a) => { window.benchFrames++; window.__frame(); return flip(...a); };
rfb.addEventListener('connect', () => { window.benchConnected = true; });
</script></body></html>
"""


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


@dataclass
class Viewer:
    """A page showing one stack, and how to read its figures."""

    page: Page
    counters_js: str  # -> [frames drawn, bytes received]
    canvas_js: str  # -> the canvas element shown
    server: list[psutil.Process]
    display: str
    pixels_js: str = ""  # -> the canvas holding the remote picture, if not the one shown


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


# jiseki: operations drawn by kind and codec, and bytes received by message type (first byte).
OPS_JS = (
    "window.jisekiStats ? {...window.jisekiStats.ops, ...Object.fromEntries(Object.entries(window.__wsByType)"
    ".map(([k, v]) => ['bytes_type_0x' + Number(k).toString(16), v]))} : {}"
)


# `--py-spy DIR`: a py-spy profile (collapsed stacks) of each server process per phase of jiseki.
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


def measure(v: Viewer, seconds: float, action: Callable[[], None] | None = None, phase: str = "") -> Phase:
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


def focus_terminal(v: Viewer) -> None:
    """Click into the terminal through the page (outside the typing phase: focusing a window
    redraws title bars, which is not typing)."""
    v.page.mouse.click(*page_point(v, *TYPING_POINT))
    time.sleep(0.5)
    settle(v)


def type_in_page(v: Viewer, seconds: float) -> None:
    """10 characters/s through the browser's keyboard events, like a person typing."""
    v.page.evaluate("window.__keyTimes = []; window.__frameTimes = []")
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        ch = TYPED[i % len(TYPED)]
        v.page.keyboard.press("Space" if ch == " " else ch)
        i += 1
        time.sleep(max(0.0, 0.1 - 0.005))


def key_latencies(v: Viewer) -> list[float]:
    keys = v.page.evaluate("window.__keyTimes")
    frames = sorted(v.page.evaluate("window.__frameTimes"))
    out = []
    for i, k in enumerate(keys):
        limit = keys[i + 1] if i + 1 < len(keys) else k + 1000
        after = [f for f in frames if k <= f < limit]
        if after:
            out.append(after[0] - k)
    return out


def run_phases(v: Viewer, workload: Workload, name: str) -> StackResult:
    result = StackResult(name)
    settle(v)
    result.phases["idle"] = measure(v, 3.0, phase="idle")
    scroll = measure(v, workload.seconds + 0.5, workload.scroll, "scroll")
    time.sleep(1.0)  # the scroller stopped 0.5 s before the end of the phase: 1.5 s of rest
    scroll.exact = exactness(v)
    result.phases["scroll"] = scroll
    settle(v)
    focus_terminal(v)
    typing = measure(v, 5.5, lambda: type_in_page(v, 5.0), "typing")
    typing.latency_ms = key_latencies(v)
    result.phases["typing"] = typing
    settle(v)
    drag = measure(v, 5.5, lambda: workload.drag(5.0), "drag")
    time.sleep(1.0)
    drag.exact = exactness(v)
    result.phases["drag"] = drag
    return result


def _login(page: Page, stack: DemoStack) -> None:
    """The demo staff member's login (each stack has fresh credentials, so any current code works)."""
    from jiseki.gateway.auth.totp import code_at

    creds = stack.credentials
    assert creds is not None
    page.goto(stack.base_url + "/login")
    page.fill("#login_id", creds.login_id)
    page.fill("#password", creds.password)
    page.fill("#code", code_at(creds.totp_secret, time.time()))
    page.click("button[type=submit]")
    page.wait_for_url(stack.base_url + "/")


def _new_page(browser: Browser, **kwargs: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1200}, **kwargs)
    context.add_init_script(INSTRUMENT)
    return context, context.new_page()


def _wait(page: Page, expression: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not page.evaluate(expression):
        time.sleep(0.1)


def bench_jiseki(browser: Browser, workload: Workload, workdir: Path) -> StackResult:
    stack = DemoStack(workdir / f"jiseki-{time.monotonic_ns()}", free_port(), quiet=True, desktop=workload.desktop)
    stack.start()
    try:
        context = terminal_context(browser, stack, viewport={"width": 1920, "height": 1200})
        context.add_init_script(INSTRUMENT)
        page = context.new_page()
        _login(page, stack)
        page.goto(stack.viewer_url)
        _wait(page, "window.jisekiStats?.framesDrawn > 0")
        page.evaluate("window.jisekiStats.onFrame = window.__frame")
        server = [psutil.Process(p.pid) for name, p in stack.group.procs if name in ("agent", "gateway")]
        viewer = Viewer(
            page,
            "[window.jisekiStats.framesDrawn, window.__wsBytes]",
            "document.getElementById('screen')",
            server,
            workload.desktop.display,
            # The policy's watermark is drawn over the shown canvas: compare what the PC sent.
            "window.jisekiFramebuffer",
        )
        result = run_phases(viewer, workload, "jiseki")
        context.close()
        return result
    finally:
        stack.stop()


def _novnc_web(workdir: Path, ws_port: int) -> Path:
    web = workdir / f"novnc-web-{ws_port}"
    web.mkdir()
    for sub in ("core", "vendor"):
        (web / sub).symlink_to(NOVNC / sub)
    (web / "bench.html").write_text(NOVNC_PAGE.replace("%WSPORT%", str(ws_port)), "utf-8")
    return web


def bench_novnc(
    browser: Browser, workload: Workload, workdir: Path, name: str, server_argv: list[str], rfb_port: int
) -> StackResult:
    """A VNC server (already listening on rfb_port, or started from server_argv) + websockify + noVNC."""
    group = ProcessGroup()
    ws_port = free_port()
    web = _novnc_web(workdir, ws_port)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        if server_argv:
            group.start(name.split()[0], server_argv, **quiet)
        group.start("websockify", ["websockify", "--web", str(web), str(ws_port), f"127.0.0.1:{rfb_port}"], **quiet)
        time.sleep(2)
        context, page = _new_page(browser)
        page.goto(f"http://127.0.0.1:{ws_port}/bench.html")
        _wait(page, "window.benchFrames > 0")
        # websockify serves each connection from a forked child: count the children too.
        server = [psutil.Process(p.pid) for _name, p in group.procs]
        server += [c for proc in list(server) for c in proc.children(recursive=True)]
        server += workload.extra_server
        viewer = Viewer(
            page,
            "[window.benchFrames, window.__wsBytes]",
            "document.querySelector('#screen canvas')",
            server,
            workload.desktop.display,
        )
        result = run_phases(viewer, workload, name)
        context.close()
        return result
    finally:
        group.stop_all()


def bench_x11vnc(browser: Browser, workload: Workload, workdir: Path) -> StackResult:
    rfb_port = free_port()
    argv = ["x11vnc", "-display", workload.desktop.display, "-rfbport", str(rfb_port), "-localhost", "-forever"]
    argv += ["-shared", "-nopw", "-quiet"]
    return bench_novnc(browser, workload, workdir, "x11vnc + noVNC", argv, rfb_port)


def start_tigervnc(group: ProcessGroup, workdir: Path, scroll_seconds: float) -> tuple[Workload, int]:
    """An Xvnc desktop (TigerVNC's X server with the VNC encoder inside) with the same workload."""
    from jiseki.demo.desktop import VirtualDesktop

    rfb_port = free_port()
    read_fd, write_fd = os.pipe()
    proc = group.start(
        "Xvnc",
        [*XVNC, "-displayfd", str(write_fd), "-rfbport", str(rfb_port)],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        number = fh.readline().strip()
    desktop = VirtualDesktop(group)
    desktop.display = f":{int(number)}"
    group.start("openbox", ["openbox"], env=desktop.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    workload = Workload(desktop, group, workdir)
    workload.start(scroll_seconds)
    workload.extra_server = [psutil.Process(proc.pid)]
    return workload, rfb_port


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * fraction


def summarize(runs: list[list[StackResult]]) -> dict[str, dict[str, list[float]]]:
    """Per stack: each measure's values over the runs."""
    table: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for r in run:
            m = table.setdefault(r.name, {})
            p = r.phases

            def put(key: str, value: float | None, m: dict[str, list[float]] = m) -> None:
                if value is not None:
                    m.setdefault(key, []).append(value)

            put("scroll: frames drawn/s", p["scroll"].fps)
            put("scroll: bandwidth kbit/s", p["scroll"].kbps)
            put("scroll: server CPU-s", p["scroll"].server_cpu)
            put("scroll: viewer (Chromium) CPU-s", p["scroll"].browser_cpu)
            put("scroll: exact pixels 1 s after rest %", _percent(p["scroll"].exact))
            lat = sorted(p["typing"].latency_ms)
            put("typing: key -> echo median ms", statistics.median(lat) if lat else None)
            put("typing: key -> echo p95 ms", lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else None)
            put("typing: bandwidth kbit/s", p["typing"].kbps)
            put("typing: server CPU-s", p["typing"].server_cpu)
            put("drag: frames drawn/s", p["drag"].fps)
            put("drag: bandwidth kbit/s", p["drag"].kbps)
            put("drag: server CPU-s", p["drag"].server_cpu)
            put("drag: exact pixels 1 s after rest %", _percent(p["drag"].exact))
            put("idle: bytes (3 s)", p["idle"].bytes)
            put("idle: server CPU-s (3 s)", p["idle"].server_cpu)
    return table


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    digits = 0 if abs(med) >= 100 else 1 if abs(med) >= 10 else 2
    text = f"{med:,.{digits}f}"
    if len(values) > 1:
        text += f" [{min(values):,.{digits}f}–{max(values):,.{digits}f}]"
    return text


def print_table(table: dict[str, dict[str, list[float]]]) -> None:
    names = list(table)
    measures = list(next(iter(table.values())))
    print(f"| {'measure (median [min–max])':40} | " + " | ".join(f"{n:>30}" for n in names) + " |")
    print("|" + "-" * 42 + "|" + "|".join("-" * 32 for _ in names) + "|")
    for m in measures:
        print(f"| {m:40} | " + " | ".join(f"{fmt(table[n].get(m, [])):>30}" for n in names) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scroll-seconds", type=float, default=9.0)
    parser.add_argument("--no-peer", action="store_true", help="skip the VNC peers")
    parser.add_argument("--no-tigervnc", action="store_true", help="skip TigerVNC even if installed")
    parser.add_argument("--py-spy", type=Path, help="write py-spy profiles of agent and gateway per phase here")
    parser.add_argument("--no-x11vnc", action="store_true", help="skip x11vnc (TigerVNC still runs)")
    args = parser.parse_args()
    global PY_SPY
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
        PY_SPY = args.py_spy
    peer = not args.no_peer
    tiger = peer and not args.no_tigervnc and shutil.which("Xvnc") is not None
    x11vnc = peer and not args.no_x11vnc
    needed = (("x11vnc",) if x11vnc else ()) + (("websockify",) if peer else ())
    for tool in ("Xvfb", "openbox", "xterm", "xdotool", *needed):
        if shutil.which(tool) is None:
            print(f"display_bench: {tool} is not installed (scripts/setup.sh test installs it)", file=sys.stderr)
            return 2
    from playwright.sync_api import sync_playwright

    runs: list[list[StackResult]] = []
    loads: list[float] = []
    group = ProcessGroup()
    with tempfile.TemporaryDirectory(prefix="jiseki-bench-") as tmp:
        workdir = Path(tmp)
        try:
            _desktop, workload = start_desktop(group, workdir, args.scroll_seconds)
            tiger_workload = None
            if tiger:
                tdir = workdir / "tigervnc"
                tdir.mkdir()
                tiger_workload, tiger_port = start_tigervnc(group, tdir, args.scroll_seconds)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                for i in range(args.runs):
                    loads.append(os.getloadavg()[0])
                    run = [bench_jiseki(browser, workload, workdir)]
                    if x11vnc:
                        run.append(bench_x11vnc(browser, workload, workdir))
                    if tiger_workload is not None:
                        run.append(
                            bench_novnc(browser, tiger_workload, workdir, "TigerVNC Xvnc + noVNC", [], tiger_port)
                        )
                    runs.append(run)
                    print(f"run {i + 1}/{args.runs} done (load {loads[-1]:.2f})", file=sys.stderr)
                browser.close()
        finally:
            group.stop_all()
    table = summarize(runs)
    print_table(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"display-{time.strftime('%Y%m%d-%H%M%S')}.json"
    doc = {
        "cpus": os.cpu_count(),
        "load_at_run_start": loads,
        "runs": [[{"name": r.name, "phases": {k: asdict(v) for k, v in r.phases.items()}} for r in rs] for rs in runs],
        "medians": {name: {m: statistics.median(v) for m, v in ms.items() if v} for name, ms in table.items()},
    }
    out.write_text(json.dumps(doc, indent=1), "utf-8")
    print(f"\nwritten to {out}; machine: {os.cpu_count()} CPUs, load at run starts {loads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
