"""Display benchmark: jiseki beside x11vnc + noVNC, same desktop, same workload, same browser.

    .venv/bin/python -m bench.display_bench [--scroll-seconds 10] [--no-peer]

One Xvfb 1920x1080 desktop with openbox and a 100x45 xterm. Phases, per stack:
  idle    3 s  nothing changes on screen
  scroll  N s  the xterm prints 3 lines every 50 ms (text scrolling)
  typing  5 s  xdotool types into the xterm at 10 characters/s (echo only)
Measured in the viewer page (headless Debian Chromium): frames drawn and bytes received over the
WebSocket; on the host: CPU seconds of the server processes (agent + gateway, or x11vnc +
websockify) and of Chromium. Prints a table and writes bench/results/display-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from jiseki.demo.desktop import VirtualDesktop
from jiseki.demo.processes import ProcessGroup
from jiseki.demo.run import DemoStack
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

HERE = Path(__file__).parent
RESULTS = HERE / "results"
NOVNC = Path("/usr/share/novnc")

# Counts bytes received on every WebSocket of the page, the same way for both viewers.
COUNT_BYTES = """
(() => {
  window.__wsBytes = 0;
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      const d = e.data;
      window.__wsBytes += d.byteLength ?? d.size ?? d.length ?? 0;
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
rfb._display.flip = (...a) => { window.benchFrames++; return flip(...a); };
rfb.addEventListener('connect', () => { window.benchConnected = true; });
</script></body></html>
"""

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


@dataclass
class Phase:
    seconds: float
    frames: int
    bytes: int
    server_cpu: float
    browser_cpu: float
    cpu_by_process: dict[str, float] = field(default_factory=dict)

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


class Workload:
    def __init__(self, desktop: VirtualDesktop, group: ProcessGroup, workdir: Path) -> None:
        self.desktop = desktop
        self.trigger = workdir / "scroll-now"
        self.script = workdir / "scroller.py"
        self.script.write_text(SCROLLER, "utf-8")
        text = Path(__file__).parent.parent / "jiseki" / "demo" / "sample.txt"
        self.seconds = 0.0
        self._group = group
        self._text = text

    def start(self, scroll_seconds: float) -> None:
        self.seconds = scroll_seconds
        self._group.start(
            "workload",
            [
                "xterm",
                "-fa",
                "DejaVu Sans Mono",
                "-fd",
                "Noto Sans Mono CJK JP",
                "-fs",
                "11",
                "-geometry",
                "100x45+20+20",
                "-title",
                "workload",
                "-e",
                sys.executable,
                str(self.script),
                str(self.trigger),
                str(scroll_seconds),
                str(self._text),
            ],
            env=self.desktop.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.5)

    def scroll(self) -> None:
        self.trigger.touch()

    def type_text(self, seconds: float) -> None:
        env = self.desktop.env()
        subprocess.run(["xdotool", "mousemove", "400", "300", "click", "1"], env=env, check=True)
        count = int(seconds * 10)
        text = ("the quick brown fox " * 10)[:count]
        subprocess.run(["xdotool", "type", "--delay", "100", text], env=env, check=True)


def measure(page, stats_js: str, server: list[psutil.Process], seconds: float, action=None) -> Phase:  # type: ignore[no-untyped-def]
    before = page.evaluate(stats_js)
    cpu0, bcpu0 = cpu_seconds(server), cpu_seconds(browser_procs())
    each0 = [cpu_seconds([p]) for p in server]
    t0 = time.monotonic()
    if action is not None:
        action()
    remaining = seconds - (time.monotonic() - t0)
    if remaining > 0:
        time.sleep(remaining)
    elapsed = time.monotonic() - t0
    after = page.evaluate(stats_js)
    return Phase(
        seconds=elapsed,
        frames=after[0] - before[0],
        bytes=after[1] - before[1],
        server_cpu=cpu_seconds(server) - cpu0,
        browser_cpu=cpu_seconds(browser_procs()) - bcpu0,
        cpu_by_process={_label(p): cpu_seconds([p]) - c0 for p, c0 in zip(server, each0, strict=True)},
    )


def _label(p: psutil.Process) -> str:
    cmd = p.cmdline()
    return next((part for part in cmd if part in ("agent", "gateway")), p.name())


def settle(page, stats_js: str, quiet: float = 1.0, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last, since = page.evaluate(stats_js)[0], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = page.evaluate(stats_js)[0]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def run_phases(page, stats_js: str, server: list[psutil.Process], workload: Workload, name: str) -> StackResult:  # type: ignore[no-untyped-def]
    result = StackResult(name)
    settle(page, stats_js)
    result.phases["idle"] = measure(page, stats_js, server, 3.0)
    result.phases["scroll"] = measure(page, stats_js, server, workload.seconds + 0.5, workload.scroll)
    settle(page, stats_js)
    result.phases["typing"] = measure(page, stats_js, server, 5.5, lambda: workload.type_text(5.0))
    return result


def bench_jiseki(browser, desktop: VirtualDesktop, workload: Workload, workdir: Path) -> StackResult:  # type: ignore[no-untyped-def]
    stack = DemoStack(workdir / "jiseki", free_port(), quiet=True, desktop=desktop)
    stack.start()
    try:
        context = browser.new_context(ignore_https_errors=True, viewport={"width": 1920, "height": 1200})
        context.add_init_script(COUNT_BYTES)
        page = context.new_page()
        page.goto(stack.viewer_url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not page.evaluate("window.jisekiStats?.framesDrawn > 0"):
            time.sleep(0.1)
        server = [psutil.Process(p.pid) for name, p in stack.group.procs if name in ("agent", "gateway")]
        result = run_phases(page, "[window.jisekiStats.framesDrawn, window.__wsBytes]", server, workload, "jiseki")
        context.close()
        return result
    finally:
        stack.stop()


def bench_vnc(browser, desktop: VirtualDesktop, workload: Workload, workdir: Path) -> StackResult:  # type: ignore[no-untyped-def]
    group = ProcessGroup()
    rfb_port, ws_port = free_port(), free_port()
    web = workdir / "novnc-web"
    web.mkdir()
    for sub in ("core", "vendor"):
        (web / sub).symlink_to(NOVNC / sub)
    (web / "bench.html").write_text(NOVNC_PAGE.replace("%WSPORT%", str(ws_port)), "utf-8")
    try:
        group.start(
            "x11vnc",
            [
                "x11vnc",
                "-display",
                desktop.display,
                "-rfbport",
                str(rfb_port),
                "-localhost",
                "-forever",
                "-shared",
                "-nopw",
                "-quiet",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        group.start(
            "websockify",
            ["websockify", "--web", str(web), str(ws_port), f"127.0.0.1:{rfb_port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2)
        context = browser.new_context(viewport={"width": 1920, "height": 1200})
        context.add_init_script(COUNT_BYTES)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{ws_port}/bench.html")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not page.evaluate("window.benchFrames > 0"):
            time.sleep(0.1)
        # websockify serves each connection from a forked child: count the children too.
        server = [psutil.Process(p.pid) for _name, p in group.procs]
        server += [c for proc in list(server) for c in proc.children(recursive=True)]
        result = run_phases(page, "[window.benchFrames, window.__wsBytes]", server, workload, "x11vnc + noVNC")
        context.close()
        return result
    finally:
        group.stop_all()


def print_table(results: list[StackResult]) -> None:
    rows = [
        ("scroll: frames drawn/s", "scroll", lambda p: f"{p.fps:.1f}"),
        ("scroll: bandwidth kbit/s", "scroll", lambda p: f"{p.kbps:,.0f}"),
        ("scroll: server CPU-s", "scroll", lambda p: f"{p.server_cpu:.2f}"),
        (
            "scroll: server CPU-s by process",
            "scroll",
            lambda p: " ".join(f"{k}={v:.2f}" for k, v in p.cpu_by_process.items()),
        ),
        ("scroll: viewer (Chromium) CPU-s", "scroll", lambda p: f"{p.browser_cpu:.2f}"),
        ("typing: bandwidth kbit/s", "typing", lambda p: f"{p.kbps:,.1f}"),
        ("typing: server CPU-s", "typing", lambda p: f"{p.server_cpu:.2f}"),
        ("idle: bytes", "idle", lambda p: f"{p.bytes:,}"),
        ("idle: server CPU-s (3 s)", "idle", lambda p: f"{p.server_cpu:.2f}"),
    ]
    header = f"| {'measure':36} | " + " | ".join(f"{r.name:>28}" for r in results) + " |"
    print(header)
    print("|" + "-" * 38 + "|" + "|".join("-" * 30 for _ in results) + "|")
    for label, phase, fmt in rows:
        print(f"| {label:36} | " + " | ".join(f"{fmt(r.phases[phase]):>28}" for r in results) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scroll-seconds", type=float, default=9.0)
    parser.add_argument("--no-peer", action="store_true", help="skip x11vnc + noVNC")
    args = parser.parse_args()
    peer = not args.no_peer
    for tool in ("Xvfb", "openbox", "xterm", "xdotool") + (("x11vnc", "websockify") if peer else ()):
        if shutil.which(tool) is None:
            print(f"display_bench: {tool} is not installed (scripts/setup.sh test installs it)", file=sys.stderr)
            return 2
    from playwright.sync_api import sync_playwright

    group = ProcessGroup()
    results: list[StackResult] = []
    with tempfile.TemporaryDirectory(prefix="jiseki-bench-") as tmp:
        workdir = Path(tmp)
        try:
            desktop = VirtualDesktop(group)
            desktop.start_x()
            group.start("openbox", ["openbox"], env=desktop.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            workload = Workload(desktop, group, workdir)
            workload.start(args.scroll_seconds)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                results.append(bench_jiseki(browser, desktop, workload, workdir))
                if peer:
                    results.append(bench_vnc(browser, desktop, workload, workdir))
                browser.close()
        finally:
            group.stop_all()
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"display-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            [{"name": r.name, "phases": {k: asdict(v) for k, v in r.phases.items()}} for r in results], indent=1
        ),
        "utf-8",
    )
    print(f"\nwritten to {out}; machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
