"""Record the workload's screen (30 frames/s with XDamage hints) for the encoder replay benchmark.

    .venv/bin/python -m bench.record [--out bench/recordings]

Writes one file per phase (scroll, typing, drag) that `python -m bench.replay` reads.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from jiseki.agent.capture.x11 import X11Capture
from jiseki.demo.processes import ProcessGroup
from jiseki.protocol import Rect

from . import recording
from .workload import start_desktop

HERE = Path(__file__).parent


def capture(display: str, seconds: float, fps: int = 30) -> list[tuple[float, Rect | None, np.ndarray]]:
    cap = X11Capture(display)
    frames: list[tuple[float, Rect | None, np.ndarray]] = []
    try:
        cap.damage()  # the first report covers the whole screen
        start = time.monotonic()
        while (now := time.monotonic()) - start < seconds:
            hints = cap.damage()
            hint = hints[0] if hints else None
            frames.append((now - start, hint if hints != [] else Rect(0, 0, 0, 0), cap.grab().copy()))
            time.sleep(max(0.0, 1 / fps - (time.monotonic() - now)))
    finally:
        cap.close()
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "recordings")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    group = ProcessGroup()
    with tempfile.TemporaryDirectory(prefix="jiseki-record-") as tmp:
        try:
            desktop, workload = start_desktop(group, Path(tmp), args.seconds)
            actions = {
                "scroll": workload.scroll,
                "typing": lambda: workload.type_text(args.seconds - 0.5),
                "drag": lambda: workload.drag(args.seconds - 0.5),
            }
            for phase, action in actions.items():
                worker = threading.Thread(target=action)
                worker.start()
                frames = capture(desktop.display, args.seconds)
                worker.join()
                path = args.out / f"{phase}.jfr"
                recording.write(path, frames)
                print(f"{phase}: {len(frames)} frames -> {path} ({path.stat().st_size // 1024} KiB)")
                time.sleep(1.0)
        finally:
            group.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
