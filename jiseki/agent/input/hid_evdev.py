"""USB HID keyboard usages -> Linux evdev key codes (as in the kernel's hid-input.c).

X servers using the evdev keycode set (Xvfb and Xorg with XKB "evdev" rules) give a key the
X keycode evdev + 8.
"""

from __future__ import annotations

_LETTERS = [30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44]

HID_TO_EVDEV: dict[int, int] = {0x04 + i: code for i, code in enumerate(_LETTERS)}
HID_TO_EVDEV.update({0x1E + i: 2 + i for i in range(10)})  # 1..9, 0
HID_TO_EVDEV.update(
    {
        0x28: 28,
        0x29: 1,
        0x2A: 14,
        0x2B: 15,
        0x2C: 57,
        0x2D: 12,
        0x2E: 13,
        0x2F: 26,
        0x30: 27,
        0x31: 43,
        0x32: 43,
        0x33: 39,
        0x34: 40,
        0x35: 41,
        0x36: 51,
        0x37: 52,
        0x38: 53,
        0x39: 58,
        0x3A: 59,
        0x3B: 60,
        0x3C: 61,
        0x3D: 62,
        0x3E: 63,
        0x3F: 64,
        0x40: 65,
        0x41: 66,
        0x42: 67,
        0x43: 68,
        0x44: 87,
        0x45: 88,  # F1..F12
        0x46: 99,
        0x47: 70,
        0x48: 119,
        0x49: 110,
        0x4A: 102,
        0x4B: 104,
        0x4C: 111,
        0x4D: 107,
        0x4E: 109,
        0x4F: 106,
        0x50: 105,
        0x51: 108,
        0x52: 103,
        0x53: 69,
        0x54: 98,
        0x55: 55,
        0x56: 74,
        0x57: 78,
        0x58: 96,
        0x59: 79,
        0x5A: 80,
        0x5B: 81,
        0x5C: 75,
        0x5D: 76,
        0x5E: 77,
        0x5F: 71,
        0x60: 72,
        0x61: 73,
        0x62: 82,
        0x63: 83,
        0x64: 86,
        0x65: 127,
        0x66: 116,
        0x67: 117,
        0x7F: 113,
        0x80: 115,
        0x81: 114,
        0x85: 121,
        0x87: 89,  # IntlRo  (ろ / _)
        0x88: 93,  # KanaMode (カタカナ/ひらがな)
        0x89: 124,  # IntlYen (¥)
        0x8A: 92,  # Convert (変換)
        0x8B: 94,  # NonConvert (無変換)
        0x8C: 95,
        0x90: 122,
        0x91: 123,
        0x92: 90,
        0x93: 91,
        0x94: 85,  # Lang1..Lang5
        0xE0: 29,
        0xE1: 42,
        0xE2: 56,
        0xE3: 125,
        0xE4: 97,
        0xE5: 54,
        0xE6: 100,
        0xE7: 126,
    }
)
HID_TO_EVDEV.update({0x68 + i: 183 + i for i in range(12)})  # F13..F24

KEYBOARD_PAGE = 0x07


def evdev_code(usage: int) -> int | None:
    if usage >> 16 != KEYBOARD_PAGE:
        return None
    return HID_TO_EVDEV.get(usage & 0xFFFF)
