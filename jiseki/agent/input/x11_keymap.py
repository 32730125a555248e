"""What the X server's keymap says: the layout's name and characters, and where the lock keys are.

Only the core protocol is used (python-xlib has no XKB requests): the rules names come from the
root window's `_XKB_RULES_NAMES` property, the active group from the core state (bits 13–14).
"""

from __future__ import annotations

from Xlib import X, Xatom
from Xlib.display import Display

from jiseki.protocol import LOCK_CAPS, LOCK_NUM, LOCK_SCROLL, KeyboardLayout, LayoutKey

from .base import LAYOUT_PROBE_IDS
from .hid_evdev import HID_TO_EVDEV

EVDEV_TO_X = 8
MAX_NAME = 64

XK_CAPS_LOCK = 0xFFE5
XK_NUM_LOCK = 0xFF7F
XK_SCROLL_LOCK = 0xFF14
LOCK_KEYSYMS = {LOCK_CAPS: XK_CAPS_LOCK, LOCK_NUM: XK_NUM_LOCK, LOCK_SCROLL: XK_SCROLL_LOCK}
_SCROLL_LED = 0x04  # LED 3 of the core keyboard
_KEYPAD = (0xFF80, 0xFFBD)  # XK_KP_Space .. XK_KP_9


def keysym_to_codepoint(keysym: int) -> int | None:
    """The character a keysym types, for Latin-1 and Unicode keysyms (the ones layouts use for text)."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return keysym
    if 0x1000100 <= keysym <= 0x110FFFF:
        cp = keysym - 0x1000000
        return None if 0xD800 <= cp <= 0xDFFF else cp
    return None


def codepoint_to_keysym(cp: int) -> int:
    """The keysym that types `cp`: Latin-1 keysyms are the code point, all others the Unicode range."""
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    return 0x1000000 | cp


class X11Keymap:
    def __init__(self, d: Display) -> None:
        self._d = d
        self._min = d.display.info.min_keycode
        self._max = d.display.info.max_keycode
        self.rows: list[list[int]] = []
        self.refresh()

    def refresh(self) -> None:
        self.rows = [list(row) for row in self._d.get_keyboard_mapping(self._min, self._max - self._min + 1)]

    def keysyms(self, keycode: int) -> list[int]:
        if not self._min <= keycode <= self._max:
            return []
        return self.rows[keycode - self._min]

    def keycodes(self) -> range:
        return range(self._min, self._max + 1)

    def group(self) -> int:
        mask: int = self._d.screen().root.query_pointer().mask  # the stubs leave reply fields untyped
        return (mask >> 13) & 0x3

    # ---- layout --------------------------------------------------------------------------

    def rules_names(self) -> list[str]:
        atom = self._d.intern_atom("_XKB_RULES_NAMES")
        prop = self._d.screen().root.get_full_property(atom, Xatom.STRING)
        if prop is None:
            return []
        value = prop.value
        raw = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        return raw.split("\0")

    def layout_name(self, group: int) -> str:
        names = self.rules_names() + [""] * 5
        model, layouts, variants = names[1], names[2].split(","), names[3].split(",")
        layout = layouts[group] if group < len(layouts) else layouts[0]
        variant = variants[group] if group < len(variants) else ""
        name = f"{model}/{layout}" if model else layout
        if variant:
            name += f"({variant})"
        name = "".join(c for c in name if 0x20 <= ord(c) < 0x7F)
        return name.encode()[:MAX_NAME].decode("ascii", "ignore")

    def layout(self) -> KeyboardLayout:
        self.refresh()
        group = self.group()
        index = 2 if group == 1 else 0  # the core keymap carries groups 1 and 2 only
        keys = []
        for usage_id in LAYOUT_PROBE_IDS:
            evdev = HID_TO_EVDEV.get(usage_id)
            if evdev is None:
                continue
            row = self.keysyms(evdev + EVDEV_TO_X)
            keysym = (row[index] if len(row) > index else 0) or (row[0] if row else 0)
            cp = keysym_to_codepoint(keysym)
            if cp is not None:
                keys.append(LayoutKey(usage_id, cp))
        return KeyboardLayout(self.layout_name(group), tuple(keys))

    # ---- lock keys -----------------------------------------------------------------------

    def lock_key(self, keysym: int) -> tuple[int, bool] | None:
        """(keycode, needs Shift) of the key that types `keysym`; JIS puts Caps_Lock on Shift+英数."""
        for level in (0, 1):
            for keycode in self.keycodes():
                row = self.keysyms(keycode)
                if len(row) > level and row[level] == keysym:
                    return keycode, level == 1
        return None

    def typing_keys(self) -> dict[int, tuple[int, bool]]:
        """Character keysym -> (keycode, needs Shift) of the keys that type it in the active group.

        Keypad keys (their level depends on Num Lock) and modifier keys are left out; the first
        key found wins, unshifted before shifted."""
        group = self.group()
        if group > 1:
            return {}  # the core keymap carries groups 1 and 2 only
        base = 2 * group
        modifiers = {kc for row in self._d.get_modifier_mapping() for kc in row if kc}
        found: dict[int, tuple[int, bool]] = {}
        for level in (0, 1):
            for keycode in self.keycodes():
                row = self.keysyms(keycode)
                keypad = any(_KEYPAD[0] <= ks <= _KEYPAD[1] for ks in row)
                if keycode in modifiers or keypad or len(row) <= base + level:
                    continue
                keysym = row[base + level]
                if keysym_to_codepoint(keysym) is not None:
                    found.setdefault(keysym, (keycode, level == 1))
        return found

    def shift_keycode(self) -> int | None:
        for keycode in self._d.get_modifier_mapping()[X.ShiftMapIndex]:
            if keycode:
                return int(keycode)
        return None

    def lock_state(self) -> int:
        """LOCK_* bits that are on now on the host."""
        mask = self._d.screen().root.query_pointer().mask
        state = LOCK_CAPS if mask & X.LockMask else 0
        num = self.lock_key(XK_NUM_LOCK)
        if num is not None:
            for index, keycodes in enumerate(self._d.get_modifier_mapping()):
                if num[0] in keycodes and mask & (1 << index):
                    state |= LOCK_NUM
        if self._d.get_keyboard_control().led_mask & _SCROLL_LED:
            state |= LOCK_SCROLL
        return state
