"""X11 capture through mss (XShmGetImage: ~1.8 ms per 1080p frame on Xvfb), with XDamage hints
and XFixes cursor shapes from `x11_events`."""

from __future__ import annotations

import mss
import numpy as np

from jiseki.protocol import Monitor, Rect

from .base import CursorImage, MoveHint
from .x11_events import X11Events


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

    def grab(self, area: Rect | None = None) -> np.ndarray:
        if area is None or self._frame is None:
            shot = self._mss.grab(self._area)
            self._frame = np.frombuffer(shot.raw, dtype=np.uint8).reshape(self.height, self.width, 4).copy()
            return self._frame
        # Only the damaged area: XShmGetImage of 800x200 costs ~0.15 ms against ~1.8 ms for 1080p.
        x0, y0 = max(0, area.x), max(0, area.y)
        x1, y1 = min(self.width, area.x + area.w), min(self.height, area.y + area.h)
        if x1 > x0 and y1 > y0:
            box = {"left": self._area["left"] + x0, "top": self._area["top"] + y0, "width": x1 - x0, "height": y1 - y0}
            shot = self._mss.grab(box)
            self._frame[y0:y1, x0:x1] = np.frombuffer(shot.raw, dtype=np.uint8).reshape(y1 - y0, x1 - x0, 4)
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
        self._events.close()
        self._mss.close()
