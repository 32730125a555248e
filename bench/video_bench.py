"""Video benchmark (issue 16): a window playing a generated 640x360 video at 25 frames/s for 10 s on
the benchmark desktop, seen through jiseki with its video path (H.264 through WebCodecs), through
jiseki without it (the page hides WebCodecs: JPEG images as before), and through x11vnc + noVNC.

    .venv/bin/python -m bench.video_bench [--runs 3] [--seconds 10] [--no-peer]

The player is `tests/e2e/video_window.py` (python-xlib, PutImage of each picture, two photographic
layers moving different ways so that no COPY can stand for a picture). Measured over the playing
time, with the display benchmark's instruments (`bench/page_probe.py`, `bench/phases.py`): frames
drawn per second in the page (jiseki: updates drawn, of which pictures decoded through the video
path; noVNC: Display.flip()), bytes received on the WebSocket, CPU of each server process in % of
one core (the agent alone, the gateway; x11vnc + websockify), and the fraction of exact pixels 1.5 s
after the video stopped. Prints medians [min-max], writes bench/results/video-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from playwright.sync_api import Browser

from jiseki.demo.processes import ProcessGroup
from jiseki.demo.run import DemoStack
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, terminal_context

from .display_bench import RESULTS, fmt
from .page_probe import INSTRUMENT, new_page, wait_until
from .phases import Phase, Viewer, exactness, measure, settle
from .stacks import login, novnc_web
from .workload import start_desktop

ROOT = Path(__file__).parent.parent
VIDEO = (400, 300, 640, 360)  # x, y, w, h asked of the window manager
FPS = 25
HIDE_WEBCODECS = "delete window.VideoDecoder; delete window.EncodedVideoChunk;"


@dataclass
class VideoResult:
    name: str
    phase: Phase
    video_pictures: int  # jiseki: pictures drawn from a video stream
    player_frames: int  # pictures the player put on the host screen
    exact: float | None

    def row(self) -> dict[str, float | None]:
        p, s = self.phase, self.phase.seconds
        agent = p.cpu_by_process.get("agent")
        return {
            "frames drawn/s": p.fps,
            "video pictures/s (WebCodecs)": self.video_pictures / s,
            "player pictures/s (host)": self.player_frames / s,
            "bandwidth kbit/s": p.kbps,
            "agent CPU % of a core": None if agent is None else 100 * agent / s,
            "server CPU % of a core (all)": 100 * p.server_cpu / s,
            "viewer (Chromium) CPU % of a core": 100 * p.browser_cpu / s,
            "exact pixels 1.5 s after it stopped %": None if self.exact is None else 100 * self.exact,
        }


def play(display_env: dict[str, str], seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.video_window", *map(str, VIDEO), str(seconds), str(FPS)],
        env={**display_env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def video_phase(v: Viewer, display_env: dict[str, str], seconds: float, name: str) -> VideoResult:
    settle(v)
    pictures0 = v.page.evaluate("window.jisekiStats ? window.jisekiStats.video.frames : 0")
    player = play(display_env, seconds)
    try:
        time.sleep(0.7)  # the window maps and waits for its first Expose
        phase = measure(v, seconds - 0.2)
        pictures = v.page.evaluate("window.jisekiStats ? window.jisekiStats.video.frames : 0") - pictures0
        out = ""
        deadline = time.monotonic() + 5
        assert player.stdout is not None
        while time.monotonic() < deadline and not out.startswith("frames"):
            out = player.stdout.readline()
        shown = int(out.split()[1]) if out.startswith("frames") else 0
        time.sleep(1.5)
        exact = exactness(v)
    finally:
        player.terminate()
        player.wait(5)
    settle(v)
    return VideoResult(name, phase, pictures, shown, exact)


def bench_jiseki(browser: Browser, desktop_env: dict[str, str], display: str, workdir: Path, *, video: bool,
                 seconds: float, desktop: object) -> VideoResult:  # fmt: skip
    stack = DemoStack(workdir / f"jiseki-{time.monotonic_ns()}", free_port(), quiet=True, desktop=desktop)  # type: ignore[arg-type]
    stack.start()
    try:
        context = terminal_context(browser, stack, viewport={"width": 1920, "height": 1200})
        context.add_init_script(INSTRUMENT if video else HIDE_WEBCODECS + INSTRUMENT)
        page = context.new_page()
        login(page, stack, stack.base_url)
        page.goto(stack.viewer_url)
        wait_until(page, "window.jisekiStats?.framesDrawn > 0")
        server = [psutil.Process(p.pid) for name, p in stack.group.procs if name in ("agent", "gateway")]
        viewer = Viewer(
            page, "[window.jisekiStats.framesDrawn, window.__wsBytes]", "document.getElementById('screen')",
            server, display, "window.jisekiFramebuffer",
        )  # fmt: skip
        name = "jiseki, video (H.264)" if video else "jiseki, images (no WebCodecs)"
        result = video_phase(viewer, desktop_env, seconds, name)
        context.close()
        return result
    finally:
        stack.stop()


def bench_x11vnc(
    browser: Browser, desktop_env: dict[str, str], display: str, workdir: Path, seconds: float
) -> VideoResult:
    group = ProcessGroup()
    rfb_port, ws_port = free_port(), free_port()
    web = novnc_web(workdir, ws_port)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    argv = ["x11vnc", "-display", display, "-rfbport", str(rfb_port), "-localhost", "-forever", "-shared"]
    argv += ["-nopw", "-quiet"]
    try:
        group.start("x11vnc", argv, **quiet)
        group.start("websockify", ["websockify", "--web", str(web), str(ws_port), f"127.0.0.1:{rfb_port}"], **quiet)
        time.sleep(2)
        context, page = new_page(browser)
        page.goto(f"http://127.0.0.1:{ws_port}/bench.html")
        wait_until(page, "window.benchFrames > 0")
        server = [psutil.Process(p.pid) for _name, p in group.procs]
        server += [c for proc in list(server) for c in proc.children(recursive=True)]
        canvas = "document.querySelector('#screen canvas')"
        viewer = Viewer(page, "[window.benchFrames, window.__wsBytes]", canvas, server, display)
        result = video_phase(viewer, desktop_env, seconds, "x11vnc + noVNC")
        context.close()
        return result
    finally:
        group.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-peer", action="store_true", help="skip x11vnc + noVNC")
    parser.add_argument("--no-images", action="store_true", help="skip jiseki without its video path")
    args = parser.parse_args()
    peer = not args.no_peer and shutil.which("x11vnc") is not None and shutil.which("websockify") is not None
    from playwright.sync_api import sync_playwright

    results: list[VideoResult] = []
    loads: list[float] = []
    group = ProcessGroup()
    with tempfile.TemporaryDirectory(prefix="jiseki-video-bench-") as tmp:
        workdir = Path(tmp)
        try:
            desktop, _workload = start_desktop(group, workdir, 1.0)
            env = desktop.env()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                for i in range(args.runs):
                    loads.append(os.getloadavg()[0])
                    for video in (True, False) if not args.no_images else (True,):
                        results.append(bench_jiseki(browser, env, desktop.display, workdir, video=video,
                                                    seconds=args.seconds, desktop=desktop))  # fmt: skip
                    if peer:
                        results.append(bench_x11vnc(browser, env, desktop.display, workdir, args.seconds))
                    print(f"run {i + 1}/{args.runs} done (load {loads[-1]:.2f})", file=sys.stderr)
                browser.close()
        finally:
            group.stop_all()
    table: dict[str, dict[str, list[float]]] = {}
    for r in results:
        for measure_name, value in r.row().items():
            if value is not None:
                table.setdefault(r.name, {}).setdefault(measure_name, []).append(value)
    names = list(table)
    measures = list(next(iter(table.values())))
    print(f"| {'measure (median [min–max])':40} | " + " | ".join(f"{n:>30}" for n in names) + " |")
    print("|" + "-" * 42 + "|" + "|".join("-" * 32 for _ in names) + "|")
    for m in measures:
        print(f"| {m:40} | " + " | ".join(f"{fmt(table[n].get(m, [])):>30}" for n in names) + " |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"video-{time.strftime('%Y%m%d-%H%M%S')}.json"
    doc = {
        "cpus": os.cpu_count(),
        "load_at_run_start": loads,
        "results": [{**asdict(r), "row": r.row()} for r in results],
        "medians": {n: {m: statistics.median(v) for m, v in ms.items() if v} for n, ms in table.items()},
    }
    out.write_text(json.dumps(doc, indent=1), "utf-8")
    print(f"\nwritten to {out}; machine: {os.cpu_count()} CPUs, load at run starts {loads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
