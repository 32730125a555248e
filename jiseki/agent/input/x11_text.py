"""Typing Unicode text on X11: real keys for what the layout has, borrowed keycodes for the rest.

A character the host's layout types (in the active group, unshifted or with Shift) is typed with
that key, so nothing in the keymap changes. Any other character is bound as a keysym to one of the
keycodes the layout leaves empty, then typed (as xdotool does). It is not IME input: each character
arrives as one key press whose keysym is the character. Bindings stay until the keycode is needed
for another character (least recently used first) and are undone at close.

X clients look a keycode up when they handle the event, with the mapping they hold then. Behind an
X input method (XIM: fcitx5, ibus-x11, uim) the key goes to the IME server and back before the
application looks it up -- fcitx5 takes ~25 ms per key on a busy host, so the delay grows with
every key still queued -- and meanwhile the application has read newer mappings: a keycode rebound
in between types the new character (issue 12 item 21: 58 of 230 characters wrong under fcitx5
with a 50 ms guard; waiting for the clients to go quiet was not enough either). So while an XIM
server runs, the typer follows what it hands back (`x11_xim`) and rebinds a keycode only once every
press of it has come back to the application (plus `XIM_MARGIN` for the application to look it
up). An application that does not use XIM (GTK and Qt translate the keycode when they read the
event) shows no key coming back; then, as without an XIM server, the short `REUSE_GUARD` applies.
A long text with many distinct characters therefore takes about as long as the IME needs to pass
it on: it is typed on the input thread, never the event loop.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict

from Xlib import X
from Xlib.display import Display
from Xlib.ext import xtest

from .x11_keymap import X11Keymap, codepoint_to_keysym
from .x11_xim import XimWatch, xim_server_windows

log = logging.getLogger(__name__)

REUSE_GUARD = 0.05  # seconds between the last use of a keycode and its rebinding, without XIM
XIM_MARGIN = 0.05  # seconds for the application to look up a key the XIM server handed back
NOT_XIM_AFTER = 0.5  # seconds with no key coming back: the application does not use XIM
XIM_STALL = 3.0  # seconds with no more keys coming back: the IME is stuck, type on
XIM_TIMEOUT = 60.0  # the longest wait in any case
FRESH_BINDING = 0.2  # seconds before the first press of a key an IME server must recognise


class UnicodeTyper:
    def __init__(self, d: Display, keymap: X11Keymap, xim: XimWatch) -> None:
        self._d = d
        self._keymap = keymap
        self._xim = xim
        self._following = False  # an XIM server runs and its traffic is followed
        self._epoch = 0
        self._bound: OrderedDict[int, int] = OrderedDict()  # keysym -> keycode, least recently used first
        self._last_use: dict[int, float] = {}
        self._presses: Counter[int] = Counter()  # presses typed per borrowed keycode, as the XIM watch counts
        self._unsettled: set[int] = set()  # borrowed keycodes typed since they were last settled
        self._pinned: set[int] = set()  # keysyms whose binding text must not take over (IME on/off keys)

    def borrowed(self, keycode: int) -> bool:
        return keycode in self._bound.values()

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

    def _settle(self, keycode: int) -> None:
        """Return once no client can still look up an earlier press of `keycode`."""
        if keycode not in self._unsettled:
            return
        self._d.sync()  # every earlier event has left the X server
        last_use = self._last_use.get(keycode, 0.0)
        if self._following:
            watch, typed = self._xim, self._presses[keycode]

            def back() -> bool:
                return watch.presses[keycode] >= typed and (not watch.releases or watch.releases[keycode] >= typed)

            def given_up() -> bool:
                # No key came back since this one was typed: the application does not use XIM (or
                # the IME keeps keys); keys came back but stopped: the IME is stuck.
                idle = time.monotonic() - max(watch.last_forward, last_use)
                return idle > (NOT_XIM_AFTER if watch.last_forward < last_use else XIM_STALL)

            if not watch.wait_until(lambda: back() or given_up(), XIM_TIMEOUT) or not back():
                log.debug("keycode %d was not handed back by the input method: typing on", keycode)
            else:
                time.sleep(XIM_MARGIN)
        wait = last_use + REUSE_GUARD - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._unsettled.discard(keycode)

    def _borrow(self, keysym: int) -> int | None:
        if keysym in self._bound:
            self._bound.move_to_end(keysym)
            return self._bound[keysym]
        free = [kc for kc in self._spare() if kc not in self._bound.values()]
        if free:
            keycode = free[0]
        elif any(ks not in self._pinned for ks in self._bound):
            old = next(ks for ks in self._bound if ks not in self._pinned)  # least recently used
            keycode = self._bound.pop(old)
            self._settle(keycode)
        else:
            return None
        self._d.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._bound[keysym] = keycode
        return keycode

    def _tap(self, keycode: int, shift: int | None) -> None:
        if shift is not None:
            xtest.fake_input(self._d, X.KeyPress, shift)
        xtest.fake_input(self._d, X.KeyPress, keycode)
        xtest.fake_input(self._d, X.KeyRelease, keycode)
        if shift is not None:
            xtest.fake_input(self._d, X.KeyRelease, shift)
        self._d.flush()

    def _prepare(self) -> None:
        self._keymap.refresh()
        self._forget_lost_bindings()
        self._following = self._xim.follow(xim_server_windows(self._d))
        if self._xim.epoch != self._epoch:  # counting started again
            self._epoch = self._xim.epoch
            self._presses.clear()

    def _tap_borrowed(self, keysym: int) -> bool:
        keycode = self._borrow(keysym)
        if keycode is None:
            log.warning("no spare keycode on this X server: cannot type text")
            return False
        self._tap(keycode, None)
        self._last_use[keycode] = time.monotonic()
        self._presses[keycode] += 1
        self._unsettled.add(keycode)
        return True

    def type(self, text: str) -> int:
        """Type every character of `text`; returns how many were typed."""
        self._prepare()
        ours = set(self._bound.values())
        real = {ks: where for ks, where in self._keymap.typing_keys().items() if where[0] not in ours}
        shift = self._keymap.shift_keycode()
        typed = 0
        for ch in text:
            keysym = codepoint_to_keysym(ord(ch))
            key = real.get(keysym)
            if key is not None and (shift is not None or not key[1]):
                self._tap(key[0], shift if key[1] else None)
            elif not self._tap_borrowed(keysym):
                break
            typed += 1
        return typed

    def tap_keysym(self, keysym: int) -> None:
        """Press and release a key that types `keysym` (unshifted): the layout's, or a borrowed one.

        For keys the input method itself acts on (its on/off keys): a borrowed binding is kept for
        the session (text never takes it over), and its first use waits `FRESH_BINDING` so that the
        IME server, which reads the new mapping on its own, knows the key when it arrives."""
        self._prepare()
        key = self._keymap.lock_key(keysym)
        if key is not None and not key[1] and not self.borrowed(key[0]):
            self._tap(key[0], None)
            return
        fresh = keysym not in self._bound
        self._pinned.add(keysym)
        if fresh and self._borrow(keysym) is not None:
            self._d.sync()
            time.sleep(FRESH_BINDING)
        self._tap_borrowed(keysym)

    def close(self) -> None:
        """Give the borrowed keycodes back (after clients had time to read them)."""
        for keycode in self._bound.values():
            self._settle(keycode)
            self._d.change_keyboard_mapping(keycode, [(0, 0)])
        self._bound.clear()
        self._d.flush()
        self._xim.close()
