"""How big are session recordings? Bytes per hour of a scripted office session.

    .venv/bin/python -m bench.recording_bench [--minutes 3]

A 1920x1080 Xvfb desktop; one recorded session viewed in headless Chromium; a loop of office-like
activity: typing in a terminal (10 characters/s), a text scroll burst, then idle, repeated. Prints the
recording's size, duration, the extrapolated bytes per hour, and the mix that produced it.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.workload import start_desktop
from jiseki.demo.processes import ProcessGroup
from jiseki.demo.provision import DEMO_DEPARTMENT
from jiseki.demo.run import DemoStack
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, login, terminal_context


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    group = ProcessGroup()
    with tempfile.TemporaryDirectory(prefix="jiseki-recbench-") as tmp:
        work = Path(tmp)
        desktop, workload = start_desktop(group, work, 3.0)  # 3 s scroll bursts
        stack = DemoStack(work / "stack", free_port(), quiet=True, desktop=desktop)
        try:
            stack.start()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "jiseki",
                    "policy",
                    "set",
                    "--department",
                    DEMO_DEPARTMENT,
                    "--record",
                    "yes",
                    "--config",
                    str(stack.config_path),
                ],
                check=True,
                capture_output=True,
            )
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                context = terminal_context(browser, stack, viewport={"width": 1920, "height": 1200})
                page = context.new_page()
                login(page, stack)
                page.goto(stack.viewer_url)
                time.sleep(3)
                end = time.monotonic() + args.minutes * 60
                cycles = 0
                while time.monotonic() < end:
                    workload.type_text(5.0)  # 5 s typing
                    workload.scroll()
                    time.sleep(4.0)  # 3 s scroll + settle
                    workload.drag(2.0)  # a window moved
                    time.sleep(8.0)  # reading: idle
                    cycles += 1
                page.close()
                context.close()
                browser.close()
            time.sleep(2)
            with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
                size, duration, frames = db.execute("SELECT bytes, duration_ms, frames FROM recordings").fetchone()
        finally:
            stack.stop()
            group.stop_all()
    hours = duration / 3_600_000
    print(
        f"recorded {duration / 1000:.0f} s ({cycles} cycles of 5 s typing, 3 s scrolling, 2 s window drag, ~9 s idle)"
    )
    print(f"file: {size:,} bytes, {frames:,} frames")
    print(f"≈ {size / hours / 1e6:,.1f} MB per hour of this mix")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
