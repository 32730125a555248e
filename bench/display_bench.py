"""Display benchmark: jiseki beside x11vnc + noVNC (and TigerVNC Xvnc + noVNC when installed),
same workload, same headless Chromium, several runs, medians; over one or more emulated links.

    .venv/bin/python -m bench.display_bench [--runs 3] [--scroll-seconds 9] [--no-peer] [--no-tigervnc]
    .venv/bin/python -m bench.display_bench --link loopback,lte-good,lte-poor,vpn-office

Desktop and workload: `bench/workload.py` (1920x1080, openbox, a scrolling terminal, a window to
drag). With `--link`, the browser reaches each stack (page, assets and WebSocket) through the link
emulator `bench/shaper.py` with that profile. Per profile, stack and run:
  first   a fresh load of the viewer page: time from navigation start to the first full picture
          (every pixel of the 1920x1080 picture drawn), also relative to the page's load event
  idle    3 s  nothing changes on screen
  scroll  N s  the terminal prints 3 lines every 50 ms; then, 1 s after it stops, the viewer's
               canvas is compared with the host screen (pixels exactly equal)
  typing  5 s  the page types 10 characters/s into the terminal, focused by a click before the
               phase (key -> echo latency: from the browser's keydown to the next frame drawn,
               nothing else changes meanwhile)
  drag    5 s  a window is dragged with the mouse (xdotool on the host); exactness 1 s after
  page    the terminal clears and prints a full page at once: time until the last frame drawn
          before rest, and whether the picture is then exactly the host's
  drop    3 s of typing with a 2 s stall of the link from 0.5 s in: keys
          received on the host against keys typed (exactly once, in order), keys still held on the
          host, same session or not, time from the stall's end to the next frame drawn
Through a link (any profile, loopback too, so that profiles compare) scroll, typing and drag last 5,
4 and 3 s (`--shaped-seconds`), keys are typed 4 per second (each echo comes back before the next
key, so it pairs with its key), 0.5 s without a frame counts as rest before a phase (1 s for the
page change's own rest), and the profile's scheduled drops are off (the drop phase makes its own).
`direct` (no proxy, the default) keeps the lengths above, comparable with earlier results.
Measured in the page: frames drawn (jiseki: updates drawn; noVNC: Display.flip()), bytes received
on the WebSocket; on the host: CPU seconds of each server process (agent + gateway; x11vnc +
websockify; Xvnc + websockify, where Xvnc also does all X drawing) and of Chromium.
Prints a table of medians [min-max] per profile and writes bench/results/display-<time>.json.
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page

from jiseki.demo.processes import ProcessGroup
from jiseki.demo.run import DemoStack, wait_for_port
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, grab_screen

from . import terminal_browser
from .shaper import PROFILES, Profile, Shaper
from .workload import TYPING_POINT, Workload, keys_held, start_desktop

HERE = Path(__file__).parent
RESULTS = HERE / "results"
NOVNC = Path("/usr/share/novnc")
XVNC = ["Xvnc", "-geometry", "1920x1080", "-depth", "24", "-localhost", "-SecurityTypes", "None", "-AlwaysShared"]
XVNC += ["-nolisten", "tcp", "-noreset"]
TYPED = "the quick brown fox jumps over the lazy dog "
SCREEN = (1920, 1080)

# Counts bytes received on every WebSocket of the page, and records keydown and frame times,
# the same way for every viewer. The first full picture: after each frame until then, the canvas
# holding the remote picture (`__fullCanvas()`) is read back; full = the screen's size and no pixel
# left transparent (a canvas starts transparent, every remote pixel drawn is opaque). For jiseki the
# hook goes in as the page assigns `window.jisekiStats` (`onFrame`, called after each UPDATE drawn).
INSTRUMENT = """
(() => {
  window.__wsBytes = 0;
  window.__wsByType = {};
  window.__keyTimes = [];
  window.__frameTimes = [];
  window.__firstFull = null;
  window.__fullCanvas = () => window.jisekiFramebuffer;
  window.__frame = (t) => { window.__frameTimes.push(t ?? performance.now()); };
  window.__checkFull = () => {
    if (window.__firstFull !== null) return;
    const t = performance.now(); // before the read-back: its own cost is not the viewer's
    const c = window.__fullCanvas();
    if (!c || c.width !== %W% || c.height !== %H%) return;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return;
    window.__firstFull = t;
  };
  let stats;
  Object.defineProperty(window, 'jisekiStats', {
    configurable: true,
    get: () => stats,
    set: (v) => { stats = v; v.onFrame = (t) => { window.__frame(t); window.__checkFull(); }; },
  });
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
""".replace("%W%", str(SCREEN[0])).replace("%H%", str(SCREEN[1]))

# Navigation start (performance.now() = 0) to the first full picture, and the page's load event.
FIRST_JS = "[window.__firstFull, performance.getEntriesByType('navigation')[0]?.loadEventEnd ?? null]"

NOVNC_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<style>body{margin:0}#screen{width:100vw;height:100vh}</style></head>
<body><div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
window.benchFrames = 0;
window.benchDisconnects = 0;
// The page's own host: through the link emulator when there is one.
const rfb = new RFB(document.getElementById('screen'), `ws://${location.host}/websockify`, {});
rfb.scaleViewport = true;
window.__fullCanvas = () => document.querySelector('#screen canvas');
const flip = rfb._display.flip.bind(rfb._display);
rfb._display.flip = (...a) => {
  window.benchFrames++; window.__frame(); const r = flip(...a); window.__checkFull(); return r;
};
rfb.addEventListener('connect', () => { window.benchConnected = true; });
rfb.addEventListener('disconnect', () => { window.benchDisconnects++; });
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


# jiseki: operations drawn by kind and codec, and bytes received by message type (first byte).
OPS_JS = (
    "window.jisekiStats ? {...window.jisekiStats.ops, ...Object.fromEntries(Object.entries(window.__wsByType)"
    ".map(([k, v]) => ['bytes_type_0x' + Number(k).toString(16), v]))} : {}"
)


# The terminal's certificate held by Chromium itself (NSS + managed policy) rather than through
# Playwright's TLS proxy; set by main() when the policy could be written.
TERMINAL_POLICY = False

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


def page_clock(v: Viewer) -> float:
    """The page's performance.now() minus time.monotonic(), in ms (CDP, not through the link)."""
    t0 = time.monotonic()
    now = float(v.page.evaluate("performance.now()"))
    t1 = time.monotonic()
    return now - (t0 + t1) / 2 * 1000


def page_change(v: Viewer, workload: Workload, quiet: float = 1.0) -> dict[str, float | None]:
    """The terminal clears and prints a full page at once: time until the last frame drawn before
    the picture rests (1 s without frames), and whether it then equals the host's screen exactly.
    Nothing else changes meanwhile, so from that last frame on the picture is the final one."""
    settle(v, quiet)
    v.page.evaluate("window.__frameTimes = []")
    clock = page_clock(v)
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
    clock = page_clock(v)
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


def key_latencies(v: Viewer, floor_ms: float = 0.0) -> list[float]:
    """Per key, the first frame drawn in [keydown + floor, next keydown + floor): `floor` is the
    shortest round trip the link allows (no echo can come sooner), so a late echo of the previous
    key is not taken for this one's."""
    keys = v.page.evaluate("window.__keyTimes")
    frames = sorted(v.page.evaluate("window.__frameTimes"))
    out = []
    for i, k in enumerate(keys):
        limit = (keys[i + 1] if i + 1 < len(keys) else k + 1000) + floor_ms
        after = [f for f in frames if k + floor_ms <= f < limit]
        if after:
            out.append(after[0] - k)
    return out


def first_picture(page: Page, label: str = "first full picture") -> dict[str, float | None]:
    _wait(page, "window.__firstFull !== null", timeout=30.0)
    full, load = page.evaluate(FIRST_JS)
    return {
        f"{label} s": None if full is None else full / 1000,
        f"{label} after load event s": None if full is None or not load else (full - load) / 1000,
    }


def first_pictures(page: Page, url: str, away: str) -> dict[str, float | None]:
    """The first full picture of a fresh load of `url`, then of a second visit (the way back
    through `away`): what may be cached (page code, never screen data) is then."""
    page.goto(url, timeout=60_000)
    first = first_picture(page)
    page.goto(away, timeout=60_000)
    time.sleep(1.0)
    page.goto(url, timeout=60_000)
    first.update(first_picture(page, "first full picture, second visit"))
    return first


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
    typing.latency_ms = key_latencies(v, 0.0 if p is None else max(0.0, p.rtt - 2 * p.jitter) * 1000)
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


def _login(page: Page, stack: DemoStack, base: str) -> None:
    """The demo staff member's login (each stack has fresh credentials, so any current code works)."""
    from jiseki.gateway.auth.totp import code_at

    creds = stack.credentials
    assert creds is not None
    page.goto(base + "/login")
    page.fill("#login_id", creds.login_id)
    page.fill("#password", creds.password)
    page.fill("#code", code_at(creds.totp_secret, time.time()))
    page.click("button[type=submit]")
    page.wait_for_url(base + "/", timeout=60_000)


def _new_page(browser: Browser, **kwargs: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1200}, **kwargs)
    context.add_init_script(INSTRUMENT)
    return context, context.new_page()


def _wait(page: Page, expression: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not page.evaluate(expression):
        time.sleep(0.1)


@dataclass(frozen=True)
class Link:
    """How the browser reaches a stack: straight (`direct`, no proxy) or through the link emulator."""

    profile: Profile | None
    lengths: Lengths

    @property
    def name(self) -> str:
        return self.profile.name if self.profile else "direct"

    @property
    def effective(self) -> Profile | None:
        # Scheduled drops would land in random phases: the drop phase makes its own stall.
        return None if self.profile is None else replace(self.profile, drop_every=0.0, drop_seconds=0.0)

    def shaper(self, port: int) -> Shaper | None:
        return None if self.effective is None else Shaper("127.0.0.1", port, self.effective)


def _terminal_context(
    browser: Browser, stack: DemoStack, base: str, workdir: Path
) -> tuple[BrowserContext, Browser | None]:
    """A context whose Chromium presents the terminal's certificate as a terminal does (NSS and the
    managed policy, `bench/terminal_browser.py`), else through Playwright's options."""
    creds = stack.credentials
    assert creds is not None
    viewport = {"width": 1920, "height": 1200}
    if TERMINAL_POLICY and terminal_browser.tools_present():
        root = stack.data_dir / "gateway" / "pki" / "root-ca.crt"
        home = terminal_browser.nss_home(workdir, Path(creds.terminal_cert), Path(creds.terminal_key), root)
        own = browser.browser_type.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, env={**os.environ, "HOME": str(home)}
        )
        return own.new_context(viewport=viewport), own  # type: ignore[arg-type]
    context = browser.new_context(
        ignore_https_errors=True,
        viewport=viewport,  # type: ignore[arg-type]
        client_certificates=[{"origin": base, "certPath": creds.terminal_cert, "keyPath": creds.terminal_key}],
    )
    return context, None


def bench_jiseki(browser: Browser, workload: Workload, workdir: Path, link: Link) -> StackResult:
    stack = DemoStack(workdir / f"jiseki-{time.monotonic_ns()}", free_port(), quiet=True, desktop=workload.desktop)
    stack.start()
    shaper = link.shaper(stack.port)
    own: Browser | None = None
    try:
        # Through the emulator the page's origin is the proxy's (its port): the client certificate
        # is offered there; cookies, the origin check and `wss://${location.host}` follow the page.
        # The gateway's certificate names 127.0.0.1 whatever the port.
        base = stack.base_url if shaper is None else f"https://127.0.0.1:{shaper.port}"
        context, own = _terminal_context(browser, stack, base, workdir / f"terminal-{time.monotonic_ns()}")
        context.add_init_script(INSTRUMENT)
        page = context.new_page()
        _login(page, stack, base)  # not counted
        first = first_pictures(page, f"{base}/view/{stack.viewer_url.rsplit('/', 1)[1]}", f"{base}/")
        server = [psutil.Process(p.pid) for name, p in stack.group.procs if name in ("agent", "gateway")]
        viewer = Viewer(
            page,
            "[window.jisekiStats.framesDrawn, window.__wsBytes]",
            "document.getElementById('screen')",
            server,
            workload.desktop.display,
            # The policy's watermark is drawn over the shown canvas: compare what the PC sent.
            "window.jisekiFramebuffer",
            session_js="window.jisekiStats.sessions",
            reconnects_js="window.jisekiStats.resumes || 0",
            shaper=shaper,
        )
        result = run_phases(viewer, workload, "jiseki", link.lengths)
        result.notes.update(first)
        result.notes["terminal certificate through NSS"] = 1.0 if own is not None else 0.0
        context.close()
        return result
    finally:
        if own is not None:
            own.close()
        if shaper is not None:
            shaper.close()
        stack.stop()


def _novnc_web(workdir: Path, ws_port: int) -> Path:
    web = workdir / f"novnc-web-{ws_port}"
    web.mkdir()
    for sub in ("core", "vendor"):
        (web / sub).symlink_to(NOVNC / sub)
    (web / "bench.html").write_text(NOVNC_PAGE.replace("%WSPORT%", str(ws_port)), "utf-8")
    return web


def bench_novnc(
    browser: Browser,
    workload: Workload,
    workdir: Path,
    name: str,
    server_argv: list[str],
    rfb_port: int,
    link: Link,
) -> StackResult:
    """A VNC server (already listening on rfb_port, or started from server_argv) + websockify + noVNC."""
    group = ProcessGroup()
    ws_port = free_port()
    web = _novnc_web(workdir, ws_port)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    shaper = link.shaper(ws_port)
    try:
        if server_argv:
            group.start(name.split()[0], server_argv, **quiet)
        group.start("websockify", ["websockify", "--web", str(web), str(ws_port), f"127.0.0.1:{rfb_port}"], **quiet)
        wait_for_port("127.0.0.1", ws_port, 10.0)
        context, page = _new_page(browser)
        origin = f"http://127.0.0.1:{ws_port if shaper is None else shaper.port}"
        first = first_pictures(page, f"{origin}/bench.html", "about:blank")
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
            session_js="window.benchDisconnects",  # this page does not reconnect: a disconnect ends it
            reconnects_js="window.benchDisconnects",
            shaper=shaper,
        )
        result = run_phases(viewer, workload, name, link.lengths)
        result.notes.update(first)
        context.close()
        return result
    finally:
        if shaper is not None:
            shaper.close()
        group.stop_all()


def bench_x11vnc(browser: Browser, workload: Workload, workdir: Path, link: Link) -> StackResult:
    rfb_port = free_port()
    argv = ["x11vnc", "-display", workload.desktop.display, "-rfbport", str(rfb_port), "-localhost", "-forever"]
    argv += ["-shared", "-nopw", "-quiet"]
    return bench_novnc(browser, workload, workdir, "x11vnc + noVNC", argv, rfb_port, link)


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
            for key, value in r.notes.items():
                put(key, value)
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
    measures = list(dict.fromkeys(m for ms in table.values() for m in ms))
    print(f"| {'measure (median [min–max])':44} | " + " | ".join(f"{n:>30}" for n in names) + " |")
    print("|" + "-" * 46 + "|" + "|".join("-" * 32 for _ in names) + "|")
    for m in measures:
        print(f"| {m:44} | " + " | ".join(f"{fmt(table[n].get(m, [])):>30}" for n in names) + " |")


def links(spec: str, args: argparse.Namespace) -> list[Link]:
    full = Lengths(args.scroll_seconds, 5.0, 5.0)
    scroll, typing, drag = (float(x) for x in args.shaped_seconds.split(","))
    # 4 keys/s: each echo comes back before the next key even over lte-poor, so it pairs with its key.
    shaped = Lengths(scroll, typing, drag, key_interval=0.25, between=0.5)
    out = []
    for name in spec.split(","):
        if name == "direct":
            out.append(Link(None, full))
        elif name in PROFILES:
            profile = PROFILES[name]
            out.append(Link(profile, shaped))
        else:
            raise SystemExit(f"display_bench: unknown link {name!r} (direct, {', '.join(PROFILES)})")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scroll-seconds", type=float, default=9.0)
    parser.add_argument("--no-peer", action="store_true", help="skip the VNC peers")
    parser.add_argument("--no-tigervnc", action="store_true", help="skip TigerVNC even if installed")
    parser.add_argument("--py-spy", type=Path, help="write py-spy profiles of agent and gateway per phase here")
    parser.add_argument("--no-x11vnc", action="store_true", help="skip x11vnc (TigerVNC still runs)")
    parser.add_argument(
        "--playwright-certificates",
        action="store_true",
        help="present the terminal's certificate through Playwright's proxy instead of Chromium's own store",
    )
    parser.add_argument(
        "--link",
        default="direct",
        help="comma-separated: direct (no proxy, the default) or link profiles: " + ", ".join(PROFILES),
    )
    parser.add_argument(
        "--shaped-seconds", default="5,4,3", help="scroll, typing, drag seconds through a link (default 5,4,3)"
    )
    args = parser.parse_args()
    chosen = links(args.link, args)
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

    runs: dict[str, list[list[StackResult]]] = {link.name: [] for link in chosen}
    loads: dict[str, list[float]] = {link.name: [] for link in chosen}
    group = ProcessGroup()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jiseki-bench-") as tmp:
        workdir = Path(tmp)
        try:
            _desktop, workload = start_desktop(group, workdir, args.scroll_seconds)
            tiger_workload = None
            if tiger:
                tdir = workdir / "tigervnc"
                tdir.mkdir()
                tiger_workload, tiger_port = start_tigervnc(group, tdir, args.scroll_seconds)
            global TERMINAL_POLICY
            with sync_playwright() as p, terminal_browser.certificate_policy() as policy:
                TERMINAL_POLICY = policy and not args.playwright_certificates
                if not TERMINAL_POLICY:
                    print("display_bench: the terminal's certificate goes through Playwright's proxy", file=sys.stderr)
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                for i in range(args.runs):
                    for link in chosen:  # profiles inside each run: load changes spread over all of them
                        loads[link.name].append(os.getloadavg()[0])
                        run = [bench_jiseki(browser, workload, workdir, link)]
                        if x11vnc:
                            run.append(bench_x11vnc(browser, workload, workdir, link))
                        if tiger_workload is not None:
                            name = "TigerVNC Xvnc + noVNC"
                            run.append(bench_novnc(browser, tiger_workload, workdir, name, [], tiger_port, link))
                        runs[link.name].append(run)
                        print(
                            f"run {i + 1}/{args.runs} {link.name} done (load {loads[link.name][-1]:.2f},"
                            f" {time.monotonic() - started:.0f} s so far)",
                            file=sys.stderr,
                        )
                browser.close()
        finally:
            group.stop_all()
    doc: dict[str, Any] = {"cpus": os.cpu_count(), "links": {}}
    for link in chosen:
        table = summarize(runs[link.name])
        print(f"\n### link: {link.name} {asdict(link.effective) if link.effective else '(no proxy)'}")
        print(f"lengths (s): {asdict(link.lengths)}; load at run starts {loads[link.name]}\n")
        print_table(table)
        doc["links"][link.name] = {
            "profile": asdict(link.effective) if link.effective else None,
            "lengths": asdict(link.lengths),
            "load_at_run_start": loads[link.name],
            "runs": [
                [{"name": r.name, "phases": {k: asdict(v) for k, v in r.phases.items()}, "notes": r.notes} for r in rs]
                for rs in runs[link.name]
            ],
            "medians": {name: {m: statistics.median(v) for m, v in ms.items() if v} for name, ms in table.items()},
        }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"display-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(doc, indent=1), "utf-8")
    print(f"\nwritten to {out}; machine: {os.cpu_count()} CPUs; {time.monotonic() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
