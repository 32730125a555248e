"""Typing Unicode text on X11 by binding keysyms to the keycodes the layout leaves empty.

This is how xdotool types characters that are not on the keyboard. It is not IME input: each
character arrives as one key press whose keysym is the character. Bindings stay until the keycode
is needed for another character (least recently used first) and are undone at close.

X clients fetch the new mapping lazily, when they handle the event, so a keycode is not rebound
until `REUSE_GUARD` seconds after its last use; long texts with many distinct characters are
therefore typed from the input thread, never the event loop.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from Xlib import X
from Xlib.display import Display
from Xlib.ext import xtest

from .x11_keymap import X11Keymap, codepoint_to_keysym

log = logging.getLogger(__name__)

REUSE_GUARD = 0.05  # seconds


class UnicodeTyper:
    def __init__(self, d: Display, keymap: X11Keymap) -> None:
        self._d = d
        self._keymap = keymap
        self._bound: OrderedDict[int, int] = OrderedDict()  # keysym -> keycode, least recently used first
        self._last_use: dict[int, float] = {}

    def _spare(self) -> list[int]:
        """Keycodes with no keysym at all, plus those we bound ourselves."""
        ours = set(self._bound.values())
        return [kc for kc in self._keymap.keycodes() if kc in ours or not any(self._keymap.keysyms(kc))]

    def _forget_lost_bindings(self) -> None:
        """Someone (setxkbmap, xmodmap) may have changed the keymap under us."""
        for keysym, keycode in list(self._bound.items()):
            row = self._keymap.keysyms(keycode)
            if not row or row[0] != keysym:
                del self._bound[keysym]

    def _keycode_for(self, keysym: int) -> int | None:
        if keysym in self._bound:
            self._bound.move_to_end(keysym)
            return self._bound[keysym]
        free = [kc for kc in self._spare() if kc not in self._bound.values()]
        if free:
            keycode = free[0]
        elif self._bound:
            _old, keycode = self._bound.popitem(last=False)
            wait = self._last_use.get(keycode, 0.0) + REUSE_GUARD - time.monotonic()
            if wait > 0:
                self._d.sync()
                time.sleep(wait)
        else:
            return None
        self._d.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._bound[keysym] = keycode
        return keycode

    def type(self, text: str) -> int:
        """Type every character of `text`; returns how many were typed."""
        self._keymap.refresh()
        self._forget_lost_bindings()
        typed = 0
        for ch in text:
            keycode = self._keycode_for(codepoint_to_keysym(ord(ch)))
            if keycode is None:
                log.warning("no spare keycode on this X server: cannot type text")
                break
            xtest.fake_input(self._d, X.KeyPress, keycode)
            xtest.fake_input(self._d, X.KeyRelease, keycode)
            self._d.flush()
            self._last_use[keycode] = time.monotonic()
            typed += 1
        return typed

    def close(self) -> None:
        """Give the borrowed keycodes back (after clients had time to read them)."""
        if not self._bound:
            return
        self._d.sync()
        time.sleep(REUSE_GUARD)
        for keycode in self._bound.values():
            self._d.change_keyboard_mapping(keycode, [(0, 0)])
        self._bound.clear()
        self._d.flush()
