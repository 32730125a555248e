"""X11 input through the XTEST extension (python-xlib), by physical keycode.

Keys are injected as keycodes, never as characters, so the host's own keyboard layout and IME
turn them into text exactly as if the key had been pressed at the desk. Only the text keyboard
mode types characters (`x11_text`).

Autorepeat comes from the terminal: the viewer forwards its repeated key-downs. The X server would
repeat a key held through XTEST as well (measured on Xvfb: 22 presses in 1.5 s), so while this
sink holds a key it turns the server's repeat off for that one key and restores it on release.
"""

from __future__ import annotations

import logging

from Xlib import X, display
from Xlib.ext import xtest
from Xlib.keysymdef import korean

from jiseki.protocol import (
    BUTTON_BACK,
    BUTTON_FORWARD,
    BUTTON_LEFT,
    BUTTON_MIDDLE,
    BUTTON_RIGHT,
    LOCK_CAPS,
    KeyboardLayout,
)

from .base import WheelAccumulator
from .hid_evdev import evdev_code
from .x11_keymap import EVDEV_TO_X, LOCK_KEYSYMS, X11Keymap
from .x11_text import UnicodeTyper
from .x11_xim import XimWatch, xim_server_names

log = logging.getLogger(__name__)

# protocol button bit -> X button number
_BUTTONS = ((BUTTON_LEFT, 1), (BUTTON_MIDDLE, 2), (BUTTON_RIGHT, 3), (BUTTON_BACK, 8), (BUTTON_FORWARD, 9))
# evdev codes of the modifiers released while TEXT is typed (Ctrl, Shift, Alt, Meta; left and right).
_MODIFIER_EVDEV = frozenset({29, 42, 56, 125, 97, 54, 100, 126})
# A Mac JIS keyboard's かな and 英数 keys are USB Lang1 and Lang2 (evdev KEY_HANGEUL, KEY_HANJA),
# which X layouts type as Hangul and Hangul_Hanja. ibus-mozc takes those as IME on and off (mozc
# issue 552), but fcitx5 takes Hangul as its toggle and Hangul_Hanja as its *activate* key; its
# deactivate key is Hangul_Romaja (fcitx5 5.0 defaults, Hotkey/ActivateKeys and DeactivateKeys).
# Under fcitx5 the two keys are therefore tapped as its activate and deactivate keysyms.
FCITX_IME_KEYS = {0x00070090: korean.XK_Hangul_Hanja, 0x00070091: korean.XK_Hangul_Romaja}  # Lang1 (かな), Lang2 (英数)


class X11Input:
    def __init__(self, display_name: str | None = None) -> None:
        self._d = display.Display(display_name)
        if self._d.query_extension("XTEST") is None:  # python-xlib: None when the server lacks it
            self._d.close()
            raise RuntimeError("the X server has no XTEST extension")
        self._held_keys: list[int] = []  # keycodes in the order they were pressed
        self._repeat_off: set[int] = set()  # keycodes whose server autorepeat we turned off
        self._buttons = 0
        self._wheel = WheelAccumulator()
        self._width = self._d.screen().width_in_pixels
        self._height = self._d.screen().height_in_pixels
        self._keymap = X11Keymap(self._d)
        self._typer = UnicodeTyper(self._d, self._keymap, XimWatch(display_name))
        self._unsupported_locks = 0

    # ---- keys ----------------------------------------------------------------------------

    def _server_repeats(self, keycode: int) -> bool:
        control = self._d.get_keyboard_control()
        return bool(control.global_auto_repeat) and bool(control.auto_repeats[keycode // 8] >> (keycode % 8) & 1)

    def _press(self, keycode: int) -> None:
        if keycode in self._held_keys:
            # A repeat from the terminal: release and press, as the X server's own repeat looks --
            # but only for keys X repeats at all (not modifiers: an IME may take Shift taps as commands).
            if keycode in self._repeat_off:
                xtest.fake_input(self._d, X.KeyRelease, keycode)
                xtest.fake_input(self._d, X.KeyPress, keycode)
            return
        if keycode not in self._repeat_off and self._server_repeats(keycode):
            self._d.change_keyboard_control(key=keycode, auto_repeat_mode=X.AutoRepeatModeOff)
            self._repeat_off.add(keycode)
        self._held_keys.append(keycode)
        xtest.fake_input(self._d, X.KeyPress, keycode)

    def _release(self, keycode: int) -> None:
        if keycode not in self._held_keys:
            return  # never release what we did not press
        self._held_keys.remove(keycode)
        xtest.fake_input(self._d, X.KeyRelease, keycode)
        if keycode in self._repeat_off:
            self._d.change_keyboard_control(key=keycode, auto_repeat_mode=X.AutoRepeatModeDefault)
            self._repeat_off.discard(keycode)

    def key(self, usage: int, down: bool) -> None:
        if usage in FCITX_IME_KEYS and any("fcitx" in name for name in xim_server_names(self._d)):
            if down:  # a tap at the press: fcitx5 acts on it then; the release is dropped
                self._typer.tap_keysym(FCITX_IME_KEYS[usage])
                self._d.flush()
            return
        code = evdev_code(usage)
        if code is None:
            return
        keycode = code + EVDEV_TO_X
        if self._typer.borrowed(keycode):
            return  # a key the layout leaves empty, lent to text mode for now: it must not type that text
        if down:
            self._press(keycode)
        else:
            self._release(keycode)
        self._d.flush()

    # ---- text and locks ------------------------------------------------------------------

    def text(self, text: str) -> None:
        # Characters must not be changed by what is held: release our modifiers meanwhile, and
        # Caps Lock (which changes the case of letters, typed with the layout's keys) too.
        # (Caps Lock first: on JIS it is toggled with Shift+英数, and a Shift we hold counts.)
        caps = bool(self._keymap.lock_state() & LOCK_CAPS) and any(c.lower() != c.upper() for c in text)
        if caps:
            self.set_locks(LOCK_CAPS, 0)
        modifiers = [kc for kc in self._held_keys if kc - EVDEV_TO_X in _MODIFIER_EVDEV]
        for keycode in modifiers:
            xtest.fake_input(self._d, X.KeyRelease, keycode)
        self._typer.type(text)
        for keycode in modifiers:
            xtest.fake_input(self._d, X.KeyPress, keycode)
        if caps:
            self.set_locks(LOCK_CAPS, LOCK_CAPS)
        self._d.flush()

    def _tap(self, keycode: int, with_shift: bool) -> None:
        shift = self._keymap.shift_keycode() if with_shift else None
        shift_held = any(kc - EVDEV_TO_X in (42, 54) for kc in self._held_keys)
        if shift is not None and not shift_held:
            xtest.fake_input(self._d, X.KeyPress, shift)
        xtest.fake_input(self._d, X.KeyPress, keycode)
        xtest.fake_input(self._d, X.KeyRelease, keycode)
        if shift is not None and not shift_held:
            xtest.fake_input(self._d, X.KeyRelease, shift)
        self._d.sync()

    def set_locks(self, known: int, state: int) -> None:
        self._keymap.refresh()
        for bit, keysym in LOCK_KEYSYMS.items():
            if not known & bit or self._unsupported_locks & bit:
                continue
            if (self._keymap.lock_state() & bit) == (state & bit):
                continue
            where = self._keymap.lock_key(keysym)
            if where is not None:
                self._tap(*where)
            if where is None or (self._keymap.lock_state() & bit) != (state & bit):
                # No such key on this layout, or it does not change the state (no LED): stop trying.
                log.info("lock 0x%x cannot be set on this X server", bit)
                self._unsupported_locks |= bit
        # The Kana lock (LOCK_KANA) has no standard X11 equivalent; it is left alone.

    def layout(self) -> KeyboardLayout | None:
        return self._keymap.layout()

    # ---- pointer -------------------------------------------------------------------------

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

    # ---- end -----------------------------------------------------------------------------

    def release_all(self) -> None:
        for keycode in reversed(list(self._held_keys)):
            self._release(keycode)
        for bit, number in _BUTTONS:
            if self._buttons & bit:
                xtest.fake_input(self._d, X.ButtonRelease, number)
        self._buttons = 0
        self._d.flush()

    def close(self) -> None:
        self.release_all()
        self._typer.close()
        self._d.close()
