"""Where the X server drew, and the cursor's shape: XDamage and XFixes through python-xlib.

XDamage is used in BoundingBox mode with one DamageSubtract per call: python-xlib cannot keep
up with raw rectangles under heavy redraw (its queue grew to 23 GB in a measurement, see
docs/architecture.md), and the bounding box is all the encoder needs as a hint. The events
arrive on a connection of their own, used only from the session's event loop thread.
"""

from __future__ import annotations

import numpy as np
from Xlib import display
from Xlib.ext import damage as xdamage
from Xlib.ext import xfixes

from jiseki.protocol import Rect

from .base import CursorImage

MAX_EVENTS_PER_CALL = 10_000  # a bound on one drain, whatever the server sends
MAX_CURSOR = 256


def cursor_from_argb(width: int, height: int, pixels: list[int]) -> bytes:
    """XFixes premultiplied ARGB32 -> straight-alpha RGBA bytes."""
    argb = np.asarray(pixels, dtype=np.uint32).reshape(height, width)
    a = (argb >> 24).astype(np.uint16)
    out = np.empty((height, width, 4), dtype=np.uint8)
    safe = np.maximum(a, 1)
    for i, shift in enumerate((16, 8, 0)):
        c = ((argb >> shift) & 0xFF).astype(np.uint16)
        out[..., i] = np.where(a > 0, np.minimum(255, (c * 255 + safe // 2) // safe), 0).astype(np.uint8)
    out[..., 3] = a.astype(np.uint8)
    return out.tobytes()


class X11Events:
    def __init__(self, display_name: str | None = None) -> None:
        self._d = display.Display(display_name)
        self._root = self._d.screen().root
        self.width = self._d.screen().width_in_pixels
        self.height = self._d.screen().height_in_pixels
        self.has_damage = bool(self._d.has_extension("DAMAGE"))
        self.has_cursor = bool(self._d.has_extension("XFIXES"))
        self._box: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 drawn since last taken
        self._cursor_changed = self.has_cursor
        if self.has_damage:
            # Without this the server answers the next request with an error (measured on Xvfb).
            self._d.damage_query_version()
            self._damage = self._root.damage_create(xdamage.DamageReportBoundingBox)
        if self.has_cursor:
            self._d.xfixes_query_version()
            self._d.xfixes_select_cursor_input(self._root, xfixes.XFixesDisplayCursorNotifyMask)
        self._d.flush()

    def fileno(self) -> int:
        return int(self._d.fileno())

    def _drain(self) -> None:
        for _ in range(MAX_EVENTS_PER_CALL):
            if not self._d.pending_events():
                return
            ev = self._d.next_event()
            # By class name: python-xlib loads its extension modules apart from ours, so
            # isinstance() against Xlib.ext.damage.DamageNotify is False.
            kind = type(ev).__name__
            if kind == "DamageNotify":
                a = ev.area
                box = (a.x, a.y, a.x + a.width, a.y + a.height)
                if self._box is None:
                    self._box = box
                else:
                    b = self._box
                    self._box = (min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3]))
            elif kind == "DisplayCursorNotify":
                self._cursor_changed = True

    def damage(self) -> list[Rect] | None:
        if not self.has_damage:
            return None
        self._drain()
        box, self._box = self._box, None
        # One subtract per call: the server then reports only drawing that happens after it.
        self._d.damage_subtract(self._damage)
        self._d.flush()
        if box is None:
            return []
        x0, y0 = max(0, box[0]), max(0, box[1])
        x1, y1 = min(self.width, box[2]), min(self.height, box[3])
        return [Rect(x0, y0, x1 - x0, y1 - y0)] if x1 > x0 and y1 > y0 else []

    def cursor(self) -> CursorImage | None:
        if not self.has_cursor:
            return None
        self._drain()
        if not self._cursor_changed:
            return None
        self._cursor_changed = False
        img = self._d.xfixes_get_cursor_image(self._root)
        self._drain()  # events that arrived during the round trip are queued, not signalled by the fd
        w, h = img.width, img.height
        if not (1 <= w <= MAX_CURSOR and 1 <= h <= MAX_CURSOR) or len(img.cursor_image) != w * h:
            return None
        hot_x, hot_y = min(img.xhot, w - 1), min(img.yhot, h - 1)
        return CursorImage(w, h, hot_x, hot_y, cursor_from_argb(w, h, img.cursor_image), img.x, img.y)

    def pending(self) -> bool:
        """Read what the server sent (so the fd stops signalling it); True if anything was drawn
        or the cursor changed since damage()/cursor() last took it."""
        self._drain()
        return self._box is not None or self._cursor_changed

    def close(self) -> None:
        self._d.close()
