"""Recorded frame sequences for the encoder-only benchmark (`bench/replay.py`).

File layout (little-endian): b"JFR1", u16 width, u16 height, u32 frames; then per frame:
f64 time (s), i32 hint x, y, w, h (w = -1: no hint, 0: nothing drawn), u32 length, and `length`
bytes of zlib(frame XOR previous frame) — mostly zeros, so it packs small and fast.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from jiseki.protocol import Rect

MAGIC = b"JFR1"
_HEAD = struct.Struct("<4sHHI")
_FRAME = struct.Struct("<d4iI")


def write(path: Path, frames: list[tuple[float, Rect | None, np.ndarray]]) -> None:
    h, w = frames[0][2].shape[:2]
    prev = np.zeros((h, w, 4), dtype=np.uint8)
    with path.open("wb") as out:
        out.write(_HEAD.pack(MAGIC, w, h, len(frames)))
        for t, hint, frame in frames:
            packed = zlib.compress(np.bitwise_xor(frame, prev).tobytes(), 1)
            x, y, hw, hh = (hint.x, hint.y, hint.w, hint.h) if hint is not None else (0, 0, -1, -1)
            out.write(_FRAME.pack(t, x, y, hw, hh, len(packed)))
            out.write(packed)
            prev = frame


def read(path: Path) -> Iterator[tuple[float, Rect | None, np.ndarray]]:
    """Frames in order; each array is a fresh copy the caller may keep."""
    with path.open("rb") as f:
        magic, w, h, n = _HEAD.unpack(f.read(_HEAD.size))
        if magic != MAGIC:
            raise ValueError(f"{path} is not a frame recording")
        frame = np.zeros((h, w, 4), dtype=np.uint8)
        for _ in range(n):
            t, x, y, hw, hh, length = _FRAME.unpack(f.read(_FRAME.size))
            delta = np.frombuffer(zlib.decompress(f.read(length)), dtype=np.uint8).reshape(h, w, 4)
            frame = np.bitwise_xor(frame, delta)
            hint = None if hw < 0 else Rect(x, y, hw, hh)
            yield t, hint, frame
