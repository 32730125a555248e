"""Encoder-only benchmark: replay recorded frames through `DisplayStream` (ACKed at once).

    .venv/bin/python -m bench.replay [bench/recordings/*.jfr] [--no-moves] [--no-hints] [--profile]

Prints, per recording: frames, updates, bytes per update, encoder CPU ms per frame (median, p90;
thread CPU time, so other load on the machine matters less) and the operations used, so an encoder
change can be compared in seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from collections import Counter
from pathlib import Path

from jiseki.agent.encode.stream import DisplayStream
from jiseki.protocol import Ack, ImageOp, encode

from . import recording

HERE = Path(__file__).parent


def replay(path: Path, *, moves: bool, hints: bool) -> dict[str, object]:
    frames = list(recording.read(path))
    h, w = frames[0][2].shape[:2]
    stream = DisplayStream(w, h, detect_moves=moves)
    # The first frame only primes the stream (a full picture), as at the start of a session.
    t0, _hint, first = frames[0]
    update = stream.next_update(first, t0)
    assert update is not None
    stream.on_ack(Ack(update.seq, 0), t0)
    times: list[float] = []
    sizes: list[int] = []
    ops: Counter[str] = Counter()
    for t, hint, frame in frames[1:]:
        if hints and hint is not None and hint.w == 0 and stream.refine_at() is None:
            times.append(0.0)  # nothing drawn: the agent does not even grab
            continue
        if hint is not None and hint.w == 0:
            hint = None
        started = time.thread_time()
        update = stream.next_update(frame, t, hint if hints else None)
        data = encode(update) if update is not None else b""
        times.append((time.thread_time() - started) * 1000)
        if update is None:
            continue
        stream.on_ack(Ack(update.seq, 0), t)
        sizes.append(len(data))
        for op in update.ops:
            ops[op.codec.name if isinstance(op, ImageOp) else type(op).__name__.removesuffix("Op").upper()] += 1
    seconds = frames[-1][0] - frames[0][0]
    times.sort()
    return {
        "recording": path.stem,
        "frames": len(frames) - 1,
        "updates": len(sizes),
        "kbit/s": round(sum(sizes) * 8 / 1000 / seconds, 1) if seconds > 0 else 0.0,
        "bytes/update": int(statistics.mean(sizes)) if sizes else 0,
        "ms/frame median": round(statistics.median(times), 2),
        "ms/frame p90": round(times[int(len(times) * 0.9)], 2),
        "ms/update": round(sum(times) / len(sizes), 2) if sizes else 0.0,  # all CPU per update sent
        "ops": dict(ops),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--no-moves", action="store_true", help="without scroll/move detection")
    parser.add_argument("--no-hints", action="store_true", help="ignore the recorded XDamage hints")
    parser.add_argument("--profile", action="store_true", help="cProfile the replay, print the top 25")
    args = parser.parse_args()
    files = args.files or sorted((HERE / "recordings").glob("*.jfr"))
    if not files:
        print("no recordings: run `python -m bench.record` first")
        return 2
    profiler = cProfile.Profile() if args.profile else None
    for path in files:
        if profiler:
            profiler.enable()
        result = replay(path, moves=not args.no_moves, hints=not args.no_hints)
        if profiler:
            profiler.disable()
        print("  ".join(f"{k}={v}" for k, v in result.items()))
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
