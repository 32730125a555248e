"""Changed-tile detection between two BGRA frames.

Rows are compared first through a uint64 view (two pixels per word), so a frame where little
changed costs under a millisecond; only the bands of rows that changed are split into tiles.
"""

from __future__ import annotations

import numpy as np

TILE = 64


def changed_rows(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Boolean per row: does any pixel of this row differ?"""
    h, w = cur.shape[:2]
    word = np.uint64 if w % 2 == 0 else np.uint32
    a = prev.reshape(h, -1).view(word)
    b = cur.reshape(h, -1).view(word)
    return np.asarray((a != b).any(axis=1))


def changed_tiles(prev: np.ndarray, cur: np.ndarray, tile: int = TILE) -> np.ndarray:
    """Boolean map (tile rows, tile columns) of the tiles whose pixels differ."""
    if prev.shape != cur.shape:
        raise ValueError("frames of different sizes")
    h, w = cur.shape[:2]
    rows_t, cols_t = -(-h // tile), -(-w // tile)
    result = np.zeros((rows_t, cols_t), dtype=bool)
    rows = changed_rows(prev, cur)
    if not rows.any():
        return result
    pad = cols_t * tile - w
    band_changed = np.add.reduceat(rows, np.arange(0, h, tile)) > 0
    for ty in np.flatnonzero(band_changed):
        y0, y1 = ty * tile, min(h, (ty + 1) * tile)
        sel = rows[y0:y1]
        a = prev[y0:y1][sel].view(np.uint32)[..., 0]
        b = cur[y0:y1][sel].view(np.uint32)[..., 0]
        cols = (a != b).any(axis=0)
        if pad:
            cols = np.concatenate([cols, np.zeros(pad, dtype=bool)])
        result[ty] = cols.reshape(cols_t, tile).any(axis=1)
    return result


def all_tiles(height: int, width: int, tile: int = TILE) -> np.ndarray:
    return np.ones((-(-height // tile), -(-width // tile)), dtype=bool)
