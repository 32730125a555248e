"""X11 input through the XTEST extension (python-xlib), by physical keycode.

Keys are injected as keycodes, never as characters, so the host's own keyboard layout and IME
turn them into text exactly as if the key had been pressed at the desk.
"""

from __future__ import annotations

from Xlib import X, display
from Xlib.ext import xtest

from jiseki.protocol import BUTTON_BACK, BUTTON_FORWARD, BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT

from .base import WheelAccumulator
from .hid_evdev import evdev_code

EVDEV_TO_X = 8
# protocol button bit -> X button number
_BUTTONS = ((BUTTON_LEFT, 1), (BUTTON_MIDDLE, 2), (BUTTON_RIGHT, 3), (BUTTON_BACK, 8), (BUTTON_FORWARD, 9))


class X11Input:
    def __init__(self, display_name: str | None = None) -> None:
        self._d = display.Display(display_name)
        if not self._d.query_extension("XTEST").present:
            raise RuntimeError("the X server has no XTEST extension")
        self._held_keys: set[int] = set()
        self._buttons = 0
        self._wheel = WheelAccumulator()
        self._width = self._d.screen().width_in_pixels
        self._height = self._d.screen().height_in_pixels

    def key(self, usage: int, down: bool) -> None:
        code = evdev_code(usage)
        if code is None:
            return
        keycode = code + EVDEV_TO_X
        if down:
            self._held_keys.add(keycode)
        elif keycode not in self._held_keys:
            return  # never release what we did not press
        else:
            self._held_keys.discard(keycode)
        xtest.fake_input(self._d, X.KeyPress if down else X.KeyRelease, keycode)
        self._d.flush()

    def pointer(self, x: int, y: int, buttons: int) -> None:
        x = min(max(x, 0), self._width - 1)
        y = min(max(y, 0), self._height - 1)
        xtest.fake_input(self._d, X.MotionNotify, x=x, y=y)
        changed = buttons ^ self._buttons
        for bit, number in _BUTTONS:
            if changed & bit:
                xtest.fake_input(self._d, X.ButtonPress if buttons & bit else X.ButtonRelease, number)
        self._buttons = buttons & sum(bit for bit, _ in _BUTTONS)
        self._d.flush()

    def wheel(self, dx: int, dy: int) -> None:
        nx, ny = self._wheel.add(dx, dy)
        for count, less, more in ((ny, 4, 5), (nx, 6, 7)):
            button = more if count > 0 else less
            for _ in range(abs(count)):
                xtest.fake_input(self._d, X.ButtonPress, button)
                xtest.fake_input(self._d, X.ButtonRelease, button)
        self._d.flush()

    def release_all(self) -> None:
        for keycode in sorted(self._held_keys):
            xtest.fake_input(self._d, X.KeyRelease, keycode)
        self._held_keys.clear()
        for bit, number in _BUTTONS:
            if self._buttons & bit:
                xtest.fake_input(self._d, X.ButtonRelease, number)
        self._buttons = 0
        self._d.flush()

    def close(self) -> None:
        self.release_all()
        self._d.close()
