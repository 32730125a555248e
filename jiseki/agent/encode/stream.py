"""The display stream of one session: frames in, UPDATEs out, paced by the viewer's ACKs.

Pure logic (no I/O). The stream keeps `reference`, the picture the viewer will have once it
has drawn every update sent. While `max_unacked` updates are in flight it sends nothing and
keeps no queue: the next update is computed against the reference, so all changes made in
the meantime are merged into it.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from jiseki.protocol import Ack, Update

from .codecs import encode_rect
from .rects import split_rect, tiles_to_rects
from .tiles import all_tiles, changed_tiles

SEQ_MODULO = 1 << 32


class DisplayStream:
    def __init__(self, width: int, height: int, *, max_unacked: int = 2, jpeg_quality: int = 80) -> None:
        self.width = width
        self.height = height
        self.max_unacked = max_unacked
        self.jpeg_quality = jpeg_quality
        self.reference: np.ndarray | None = None
        self._in_flight: deque[int] = deque()
        self._next_seq = 1
        self._refresh = True

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def can_send(self) -> bool:
        return len(self._in_flight) < self.max_unacked

    def request_refresh(self) -> None:
        self._refresh = True

    def on_ack(self, ack: Ack) -> None:
        """ACKs arrive in order; one for seq N also covers everything before N."""
        if ack.seq not in self._in_flight:
            return
        while self._in_flight:
            if self._in_flight.popleft() == ack.seq:
                break

    def next_update(self, frame: np.ndarray) -> Update | None:
        """The UPDATE that brings the viewer to `frame`, or None (nothing changed or must wait)."""
        if frame.shape != (self.height, self.width, 4):
            raise ValueError(f"frame shape {frame.shape} does not match the desktop {self.width}x{self.height}")
        if not self.can_send():
            return None
        if self._refresh or self.reference is None:
            tiles = all_tiles(self.height, self.width)
        else:
            tiles = changed_tiles(self.reference, frame)
            if not tiles.any():
                return None
        self._refresh = False
        rects = [piece for r in tiles_to_rects(tiles, self.width, self.height) for piece in split_rect(r)]
        ops = tuple(encode_rect(frame, r, self.jpeg_quality) for r in rects)
        if self.reference is None:
            self.reference = frame.copy()
        else:
            for r in rects:
                self.reference[r.y : r.y + r.h, r.x : r.x + r.w] = frame[r.y : r.y + r.h, r.x : r.x + r.w]
        seq = self._next_seq
        self._next_seq = (seq + 1) % SEQ_MODULO or 1
        self._in_flight.append(seq)
        return Update(seq, ops)
