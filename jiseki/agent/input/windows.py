"""Windows input: physical keys as SendInput scancodes, text as KEYEVENTF_UNICODE, and the real
Ctrl+Alt+Del through SendSAS (SendInput cannot produce the secure attention sequence).

Every Win32 call goes through `InputApi`; the unit tests use a fake of it, tests/wine runs the real
`win32.input.Win32Input` under Wine. The behaviour mirrors `x11.X11Input`: a key-down of a held key is an autorepeat
(Windows repeats nothing injected by itself), modifiers are lifted while text is typed.
"""

from __future__ import annotations

from jiseki.protocol import (
    BUTTON_BACK,
    BUTTON_FORWARD,
    BUTTON_LEFT,
    BUTTON_MIDDLE,
    BUTTON_RIGHT,
    LOCK_CAPS,
    LOCK_KANA,
    LOCK_NUM,
    LOCK_SCROLL,
    KeyboardLayout,
    LayoutKey,
)

from ..win32.input import (
    KEYEVENTF_EXTENDEDKEY,
    KEYEVENTF_KEYUP,
    KEYEVENTF_SCANCODE,
    KEYEVENTF_UNICODE,
    MOUSEEVENTF_ABSOLUTE,
    MOUSEEVENTF_HWHEEL,
    MOUSEEVENTF_LEFTDOWN,
    MOUSEEVENTF_LEFTUP,
    MOUSEEVENTF_MIDDLEDOWN,
    MOUSEEVENTF_MIDDLEUP,
    MOUSEEVENTF_MOVE,
    MOUSEEVENTF_RIGHTDOWN,
    MOUSEEVENTF_RIGHTUP,
    MOUSEEVENTF_VIRTUALDESK,
    MOUSEEVENTF_WHEEL,
    MOUSEEVENTF_XDOWN,
    MOUSEEVENTF_XUP,
    VK_CAPITAL,
    VK_KANA,
    VK_NUMLOCK,
    VK_SCROLL,
    WHEEL_DELTA,
    XBUTTON1,
    XBUTTON2,
    InputApi,
    KeyInput,
    MouseInput,
    Win32Input,
)
from .base import LAYOUT_PROBE_IDS, WheelAccumulator
from .hid_scancode import EXTENDED, HID_TO_SCANCODE, KEYBOARD_PAGE, scancode, scancode_vk, virtual_key

_PAGE = KEYBOARD_PAGE << 16
DELETE = _PAGE | 0x4C
CONTROLS = frozenset({_PAGE | 0xE0, _PAGE | 0xE4})
ALTS = frozenset({_PAGE | 0xE2, _PAGE | 0xE6})
MODIFIERS = frozenset({_PAGE | u for u in range(0xE0, 0xE8)})
_LOCKS = ((LOCK_CAPS, VK_CAPITAL), (LOCK_NUM, VK_NUMLOCK), (LOCK_SCROLL, VK_SCROLL), (LOCK_KANA, VK_KANA))
# protocol button bit -> (down flags, up flags, data)
_BUTTONS = (
    (BUTTON_LEFT, MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP, 0),
    (BUTTON_RIGHT, MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP, 0),
    (BUTTON_MIDDLE, MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP, 0),
    (BUTTON_BACK, MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, XBUTTON1),
    (BUTTON_FORWARD, MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, XBUTTON2),
)


def key_input(usage: int, down: bool) -> KeyInput | None:
    """The SendInput keyboard event for a physical key (scancode, or virtual key for Pause/Num Lock).

    A scancode event carries the key's virtual key too: Windows ignores it, Wine needs it."""
    up = 0 if down else KEYEVENTF_KEYUP
    by_vk = virtual_key(usage)
    if by_vk is not None:
        vk, sc = by_vk
        return KeyInput(vk, sc & 0xFF, up | (KEYEVENTF_EXTENDEDKEY if sc & EXTENDED else 0))
    code = scancode(usage)
    if code is None:
        return None
    flags = KEYEVENTF_SCANCODE | up | (KEYEVENTF_EXTENDEDKEY if code & EXTENDED else 0)
    return KeyInput(scancode_vk(code), code & 0xFF, flags)


def unicode_inputs(text: str) -> list[KeyInput]:
    """Down and up of every UTF-16 code unit: characters beyond the BMP go as surrogate pairs."""
    data = text.encode("utf-16-le")
    units = [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]
    events = []
    for unit in units:
        events.append(KeyInput(0, unit, KEYEVENTF_UNICODE))
        events.append(KeyInput(0, unit, KEYEVENTF_UNICODE | KEYEVENTF_KEYUP))
    return events


def _absolute(pixel: int, size: int) -> int:
    """The normalized coordinate that lands on `pixel` of `size`: Windows takes the pixel as
    floor(n * size / 65536), so the smallest n of that pixel is ceil(pixel * 65536 / size) (rounding
    misses pixels; this is exact on every point tried under Wine: docs/windows.md)."""
    size = max(size, 1)
    pixel = min(max(pixel, 0), size - 1)
    return min(-(-pixel * 65536 // size), 65535)


class WindowsInput:
    def __init__(self, api: InputApi | None = None) -> None:
        self._api: InputApi = api if api is not None else Win32Input()
        self._held: list[int] = []  # usages, in press order
        self._sas_delete = False  # the Delete of a Ctrl+Alt+Del went to SendSAS: drop its release
        self._buttons = 0
        self._wheel = WheelAccumulator()

    def key(self, usage: int, down: bool) -> None:
        event = key_input(usage, down)
        if event is None:
            return
        if down:
            held = set(self._held)
            if usage == DELETE and held & CONTROLS and held & ALTS:
                self._sas_delete = True
                self._api.send_sas()
                return
            if usage not in self._held:
                self._held.append(usage)
            self._api.send([event])  # again for a held key: an autorepeat
            return
        if usage == DELETE and self._sas_delete:
            self._sas_delete = False
            return
        if usage not in self._held:
            return  # never release what we did not press
        self._held.remove(usage)
        self._api.send([event])

    def text(self, text: str) -> None:
        modifiers = [u for u in self._held if u in MODIFIERS]
        lift = [e for u in modifiers if (e := key_input(u, False)) is not None]
        restore = [e for u in modifiers if (e := key_input(u, True)) is not None]
        self._api.send([*lift, *unicode_inputs(text), *restore])

    def set_locks(self, known: int, state: int) -> None:
        for bit, vk in _LOCKS:
            if known & bit and self._api.key_toggled(vk) != bool(state & bit):
                flags = KEYEVENTF_EXTENDEDKEY if vk == VK_NUMLOCK else 0
                self._api.send([KeyInput(vk, 0, flags), KeyInput(vk, 0, flags | KEYEVENTF_KEYUP)])

    def layout(self) -> KeyboardLayout | None:
        by_scancode = {HID_TO_SCANCODE[u]: u for u in LAYOUT_PROBE_IDS if u in HID_TO_SCANCODE}
        name, chars = self._api.keyboard_layout(sorted(by_scancode))
        keys: dict[int, int] = {}
        for sc, ch in chars.items():
            usage_id = by_scancode.get(sc)
            if usage_id is not None and len(ch) == 1 and ord(ch) >= 0x20 and not 0xD800 <= ord(ch) <= 0xDFFF:
                keys.setdefault(usage_id, ord(ch))
        clean = "".join(c for c in name if 0x20 <= ord(c) < 0x7F)[:64]
        return KeyboardLayout(clean, tuple(LayoutKey(u, c) for u, c in sorted(keys.items())))

    def pointer(self, x: int, y: int, buttons: int) -> None:
        _left, _top, width, height = self._api.virtual_screen()
        # Absolute coordinates span 0..65535 over the virtual desktop; (x, y) count from its corner.
        nx = _absolute(x, width)
        ny = _absolute(y, height)
        events = [MouseInput(nx, ny, 0, MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK)]
        changed = buttons ^ self._buttons
        for bit, down, up, data in _BUTTONS:
            if changed & bit:
                events.append(MouseInput(0, 0, data, down if buttons & bit else up))
        self._buttons = buttons & sum(b[0] for b in _BUTTONS)
        self._api.send(events)

    def wheel(self, dx: int, dy: int) -> None:
        nx, ny = self._wheel.add(dx, dy)
        events = []
        if ny:
            events.append(MouseInput(0, 0, -ny * WHEEL_DELTA, MOUSEEVENTF_WHEEL))  # Windows: positive is up
        if nx:
            events.append(MouseInput(0, 0, nx * WHEEL_DELTA, MOUSEEVENTF_HWHEEL))
        if events:
            self._api.send(events)

    def release_all(self) -> None:
        events: list[KeyInput | MouseInput] = [
            e for u in reversed(self._held) if (e := key_input(u, False)) is not None
        ]
        self._held.clear()
        self._sas_delete = False
        for bit, _down, up, data in _BUTTONS:
            if self._buttons & bit:
                events.append(MouseInput(0, 0, data, up))
        self._buttons = 0
        if events:
            self._api.send(events)

    def close(self) -> None:
        self.release_all()
