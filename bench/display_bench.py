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

Parts: `bench/page_probe.py` (the instrumentation put into every viewer page and its readers),
`bench/phases.py` (the phases above on one viewer, and what each measures), `bench/stacks.py` (the
stacks compared and the link each is reached through); this module runs them and reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jiseki.demo.processes import ProcessGroup
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

from . import phases, stacks, terminal_browser
from .phases import Lengths, StackResult
from .shaper import PROFILES
from .stacks import Link, bench_jiseki, bench_novnc, bench_x11vnc, start_tigervnc
from .workload import start_desktop

HERE = Path(__file__).parent
RESULTS = HERE / "results"


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
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
        phases.PY_SPY = args.py_spy
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
            with sync_playwright() as p, terminal_browser.certificate_policy() as policy:
                stacks.TERMINAL_POLICY = policy and not args.playwright_certificates
                if not stacks.TERMINAL_POLICY:
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
