"""Merge a changed-tile map into few rectangles: horizontal runs, then equal runs stacked."""

from __future__ import annotations

import numpy as np

from jiseki.protocol import Rect

from .tiles import TILE


def tiles_to_rects(tiles: np.ndarray, width: int, height: int, tile: int = TILE) -> list[Rect]:
    """Rectangles covering exactly the changed tiles, clipped to the frame."""
    open_runs: dict[tuple[int, int], list[int]] = {}  # (x0, x1) in tiles -> [ty_start, ty_end]
    done: list[tuple[int, int, int, int]] = []
    rows_any: list[bool] = np.asarray(tiles.any(axis=1)).tolist()
    for ty in range(tiles.shape[0]):
        if not rows_any[ty] and not open_runs:
            continue  # nothing here and nothing to close: most rows of a small update
        row = tiles[ty]
        runs: set[tuple[int, int]] = set()
        if rows_any[ty]:
            padded = np.concatenate(([False], row, [False])).astype(np.int8)
            edges = np.flatnonzero(np.diff(padded))
            runs = {(int(edges[i]), int(edges[i + 1])) for i in range(0, len(edges), 2)}
        for run in list(open_runs):
            if run not in runs:
                y0, y1 = open_runs.pop(run)
                done.append((run[0], run[1], y0, y1))
        for run in runs:
            if run in open_runs:
                open_runs[run][1] = ty + 1
            else:
                open_runs[run] = [ty, ty + 1]
    for run, (y0, y1) in open_runs.items():
        done.append((run[0], run[1], y0, y1))
    rects = []
    for x0, x1, y0, y1 in sorted(done, key=lambda r: (r[2], r[0])):
        px, py = x0 * tile, y0 * tile
        rects.append(Rect(px, py, min(x1 * tile, width) - px, min(y1 * tile, height) - py))
    return rects


def union(rects: list[Rect]) -> Rect:
    """The bounding box of `rects` (at least one)."""
    x0, y0 = min(r.x for r in rects), min(r.y for r in rects)
    x1, y1 = max(r.x + r.w for r in rects), max(r.y + r.h for r in rects)
    return Rect(x0, y0, x1 - x0, y1 - y0)


# Pieces this size keep the codec choice local (a photo beside text does not turn the text into
# JPEG) and keep each browser decode short.
MAX_PIECE_W = 512
MAX_PIECE_H = 128


def split_rect(rect: Rect, max_w: int = MAX_PIECE_W, max_h: int = MAX_PIECE_H) -> list[Rect]:
    pieces = []
    for y in range(rect.y, rect.y + rect.h, max_h):
        h = min(max_h, rect.y + rect.h - y)
        for x in range(rect.x, rect.x + rect.w, max_w):
            pieces.append(Rect(x, y, min(max_w, rect.x + rect.w - x), h))
    return pieces
