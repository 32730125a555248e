"""The selftest's probe window on X11 (python-xlib): an override-redirect window (no window manager
moves or decorates it) that reports the keys it gets as HID usages, by inverting the evdev table
the X11 input backend injects with (X keycode = evdev code + 8)."""

from __future__ import annotations

import time
from functools import cache

from Xlib import X, display

from jiseki.protocol import Rect

from ..input.hid_evdev import HID_TO_EVDEV, KEYBOARD_PAGE
from ..input.x11_keymap import EVDEV_TO_X
from .window import Click, KeyEvent

IN_FLIGHT = 0.05  # events injected just before a call are delivered within a round trip or two


@cache
def evdev_to_usage() -> dict[int, int]:
    """evdev code -> HID usage. Two usages share evdev 43 (Backslash and the ISO #~ key): the lower,
    Backslash, is the one the input backend's JIS and US layouts mean."""
    table: dict[int, int] = {}
    for hid_id, code in sorted(HID_TO_EVDEV.items()):
        table.setdefault(code, KEYBOARD_PAGE << 16 | hid_id)
    return table


def _char(keysym: int) -> str:
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:  # Latin-1 keysyms are their code points
        return chr(keysym)
    if keysym >> 24 == 0x01:  # Unicode keysyms: 0x01000000 | code point
        return chr(keysym & 0xFFFFFF)
    return {0xFF0D: "\r", 0xFF09: "\t", 0xFF08: "\b"}.get(keysym, "")


class X11ProbeWindow:
    def __init__(self, display_name: str, rect: Rect) -> None:
        self.rect = rect
        self._d = display.Display(display_name)
        screen = self._d.screen()
        self._colormap = screen.default_colormap
        self._window = screen.root.create_window(
            rect.x,
            rect.y,
            rect.w,
            rect.h,
            0,
            screen.root_depth,
            background_pixel=screen.black_pixel,
            override_redirect=True,
            event_mask=X.KeyPressMask | X.KeyReleaseMask | X.ButtonPressMask,
        )
        self._window.set_wm_name("jiseki selftest")
        self._window.map()
        self._d.sync()
        self._keys: list[KeyEvent] = []
        self._clicks: list[Click] = []
        self._text: list[str] = []

    def fill(self, bgr: tuple[int, int, int]) -> None:
        b, g, r = bgr
        pixel = self._colormap.alloc_color(r * 257, g * 257, b * 257).pixel
        self._window.change_attributes(background_pixel=pixel)
        self._window.raise_window()
        self._window.clear_area(0, 0, 0, 0)  # repaints the whole window with the new background
        self._d.sync()  # the server has drawn it when sync returns (no compositor on the test X)

    def focus(self) -> bool:
        self._window.raise_window()
        self._window.set_input_focus(X.RevertToParent, X.CurrentTime)
        self._d.sync()
        return bool(self._d.get_input_focus().focus == self._window)

    def _drain(self) -> None:
        self._d.sync()
        time.sleep(IN_FLIGHT)
        self._d.sync()
        while self._d.pending_events():
            event = self._d.next_event()
            if event.type in (X.KeyPress, X.KeyRelease):
                down = event.type == X.KeyPress
                usage = evdev_to_usage().get(event.detail - EVDEV_TO_X, 0)
                self._keys.append(KeyEvent(usage, down, event.detail))
                if down:
                    level = 1 if event.state & X.ShiftMask else 0
                    self._text.append(_char(self._d.keycode_to_keysym(event.detail, level)))
            elif event.type == X.ButtonPress:
                self._clicks.append(Click(event.root_x, event.root_y, event.detail))

    def keys(self) -> list[KeyEvent]:
        self._drain()
        out, self._keys = self._keys, []
        return out

    def clicks(self) -> list[Click]:
        self._drain()
        out, self._clicks = self._clicks, []
        return out

    def text(self) -> str:
        self._drain()
        out, self._text = "".join(self._text), []
        return out

    def close(self) -> None:
        self._window.destroy()
        self._d.close()
