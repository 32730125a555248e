"""X11 capture through mss (XShmGetImage: ~1.8 ms per 1080p frame on Xvfb), with XDamage hints
and XFixes cursor shapes from `x11_events`."""

from __future__ import annotations

import mss
import numpy as np

from jiseki.protocol import Monitor, Rect

from .base import CursorImage, MoveHint
from .x11_events import X11Events
from .x11_shm import ShmReader


class X11Capture:
    method = "x11"

    def __init__(self, display: str | None = None) -> None:
        self._mss = mss.MSS(display=display) if display else mss.MSS()
        whole = self._mss.monitors[0]
        self._area = {"left": whole["left"], "top": whole["top"], "width": whole["width"], "height": whole["height"]}
        self.width = int(whole["width"])
        self.height = int(whole["height"])
        self._events = X11Events(display)
        self._frame: np.ndarray | None = None
        self._shm: ShmReader | None = None
        self._shm_tried = False  # attached after mss's first grab, which tells whether MIT-SHM works

    def _pixels(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """The screen's pixels in [x0, x1) x [y0, y1): read in place from the shared segment where
        possible (valid until the next grab), else through mss (a new array)."""
        left, top = self._area["left"] + x0, self._area["top"] + y0
        if self._shm is not None:
            pixels = self._shm.read(left, top, x1 - x0, y1 - y0)
            if pixels is not None:
                return pixels
        shot = self._mss.grab({"left": left, "top": top, "width": x1 - x0, "height": y1 - y0})
        if not self._shm_tried:
            self._shm_tried = True
            self._shm = ShmReader.attach(self._mss)
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(y1 - y0, x1 - x0, 4)

    def grab(self, area: Rect | None = None) -> np.ndarray:
        if area is None or self._frame is None:
            if self._frame is None:
                self._frame = np.empty((self.height, self.width, 4), dtype=np.uint8)
            self._frame[:] = self._pixels(0, 0, self.width, self.height)
            return self._frame
        # Only the damaged area: XShmGetImage of 800x200 costs ~0.15 ms against ~1.8 ms for 1080p.
        x0, y0 = max(0, area.x), max(0, area.y)
        x1, y1 = min(self.width, area.x + area.w), min(self.height, area.y + area.h)
        if x1 > x0 and y1 > y0:
            self._frame[y0:y1, x0:x1] = self._pixels(x0, y0, x1, y1)
        return self._frame

    def monitors(self) -> list[Monitor]:
        result = []
        for m in self._mss.monitors[1:]:
            result.append(Monitor(int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"])))
        return result or [Monitor(0, 0, self.width, self.height)]

    def fileno(self) -> int | None:
        return self._events.fileno() if self._events.has_damage else None

    def damage(self) -> list[Rect] | None:
        return self._events.damage()

    def moves(self) -> list[MoveHint]:
        return []  # X11 reports no moves: the encoder finds them in the pixels

    def cursor(self) -> CursorImage | None:
        return self._events.cursor()

    def pending(self) -> bool:
        return self._events.pending()

    def close(self) -> None:
        if self._shm is not None:
            self._shm.close()  # before mss unmaps the segment it views
            self._shm = None
        self._events.close()
        self._mss.close()
