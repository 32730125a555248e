"""Windows capture by GDI: BitBlt of the virtual screen (or only the damaged area) into a DIB section.

It cannot tell what changed (`damage()` is None: the encoder compares frames; `moves()` is []) and the
cursor is polled with GetCursorInfo. Also the pieces the DXGI backend shares: the GDI protocol the unit
tests fake, rectangle helpers and the cursor image. Coordinates count from the virtual screen's corner,
the origin `input.windows` uses for SendInput.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from jiseki.protocol import MAX_CURSOR, Monitor, Rect

from ..win32.gdi import CursorBitmap, CursorState, MonitorArea
from .base import CursorImage, MoveHint

log = logging.getLogger(__name__)

HIDDEN = CursorBitmap(1, 1, 0, 0, bytes(4))  # all transparent: the protocol's "pointer hidden"


class Dib(Protocol):
    pixels: np.ndarray  # (h, w, 4) BGRA, the DIB's own memory

    def blit(self, x: int, y: int, w: int, h: int, src_x: int, src_y: int) -> bool: ...
    def close(self) -> None: ...


class GdiApi(Protocol):
    """What the GDI backend (and DxgiCapture, for metrics and monitors) needs: `win32.gdi.Win32Gdi`."""

    def virtual_screen(self) -> tuple[int, int, int, int]: ...
    def monitors(self) -> list[MonitorArea]: ...
    def screen_dib(self, width: int, height: int) -> Dib: ...
    def cursor_state(self) -> CursorState | None: ...
    def cursor_bitmap(self, handle: int) -> CursorBitmap | None: ...
    def close(self) -> None: ...


def clip(r: Rect, width: int, height: int) -> Rect | None:
    x0, y0 = max(0, r.x), max(0, r.y)
    x1, y1 = min(width, r.x + r.w), min(height, r.y + r.h)
    return Rect(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def intersect(a: Rect, b: Rect) -> Rect | None:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    return Rect(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def monitor_list(areas: list[MonitorArea], left: int, top: int, width: int, height: int) -> list[Monitor]:
    """Monitors relative to the virtual screen's corner, the primary one first."""
    ordered = sorted(areas, key=lambda m: (not m.primary, m.y, m.x))
    return [Monitor(m.x - left, m.y - top, m.w, m.h) for m in ordered] or [Monitor(0, 0, width, height)]


def cursor_image(bitmap: CursorBitmap, x: int, y: int) -> CursorImage:
    """A cursor for the protocol: at most MAX_CURSOR on each side, the hotspot inside."""
    w, h = min(bitmap.w, MAX_CURSOR), min(bitmap.h, MAX_CURSOR)
    rgba = bitmap.rgba
    if (w, h) != (bitmap.w, bitmap.h):
        rgba = np.frombuffer(rgba, dtype=np.uint8).reshape(bitmap.h, bitmap.w, 4)[:h, :w].tobytes()
    return CursorImage(w, h, min(bitmap.hot_x, w - 1), min(bitmap.hot_y, h - 1), rgba, x, y)


class GdiCapture:
    method = "gdi"

    def __init__(self, gdi: GdiApi, fallback_reason: str | None = None) -> None:
        self._gdi = gdi
        self.fallback_reason = fallback_reason
        self._left, self._top, self.width, self.height = gdi.virtual_screen()
        self._dib = gdi.screen_dib(self.width, self.height)
        self._grabbed = False
        self._cursor_key: tuple[int, int, int] | None = None
        self._shapes: dict[int, CursorBitmap | None] = {}

    def grab(self, area: Rect | None = None) -> np.ndarray:
        rect = Rect(0, 0, self.width, self.height)
        if area is not None and self._grabbed:
            part = clip(area, self.width, self.height)
            if part is None:
                return self._dib.pixels
            rect = part
        if not self._dib.blit(rect.x, rect.y, rect.w, rect.h, self._left + rect.x, self._top + rect.y):
            # BitBlt fails while the secure desktop (UAC, lock screen) is shown: keep the last picture.
            log.debug("BitBlt failed")
        self._grabbed = True
        return self._dib.pixels

    def monitors(self) -> list[Monitor]:
        return monitor_list(self._gdi.monitors(), self._left, self._top, self.width, self.height)

    def fileno(self) -> int | None:
        return None

    def damage(self) -> list[Rect] | None:
        return None  # GDI cannot tell: the encoder compares the frames

    def moves(self) -> list[MoveHint]:
        return []

    def cursor(self) -> CursorImage | None:
        state = self._gdi.cursor_state()
        if state is None:
            return None
        key = (state.handle, state.x, state.y)
        if key == self._cursor_key:
            return None
        self._cursor_key = key
        bitmap = HIDDEN
        if state.handle:
            if state.handle not in self._shapes:
                if len(self._shapes) >= 64:
                    self._shapes.clear()
                self._shapes[state.handle] = self._gdi.cursor_bitmap(state.handle)
            bitmap = self._shapes[state.handle] or HIDDEN
        return cursor_image(bitmap, state.x - self._left, state.y - self._top)

    def pending(self) -> bool:
        return False

    def close(self) -> None:
        self._dib.close()
        self._gdi.close()
