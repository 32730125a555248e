"""USB HID keyboard usages -> PC set-1 scancodes, as Windows' SendInput(KEYEVENTF_SCANCODE) takes them.

Values above 0xFF carry the 0xE0 prefix (KEYEVENTF_EXTENDEDKEY). The data follows Chromium's
`ui/events/keycodes/dom/dom_code_data.inc` (Windows column) and Microsoft's "Keyboard Scan Code
Specification". JIS keys: 半角/全角 0x29, カタカナ/ひらがな 0x70, ろ 0x73, 変換 0x79, 無変換 0x7B,
¥ 0x7D (noVNC's xtscancodes agree). Pause and Num Lock share scancode 0x45 and are told apart only
by the E1 prefix, which SendInput cannot express: those two are sent as virtual keys instead.
"""

from __future__ import annotations

KEYBOARD_PAGE = 0x07
EXTENDED = 0xE000

_LETTERS = [0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32, 0x31, 0x18, 0x19]
_LETTERS += [0x10, 0x13, 0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D, 0x15, 0x2C]

HID_TO_SCANCODE: dict[int, int] = {0x04 + i: sc for i, sc in enumerate(_LETTERS)}  # KeyA..KeyZ
HID_TO_SCANCODE.update({0x1E + i: 0x02 + i for i in range(10)})  # Digit1..Digit0
HID_TO_SCANCODE.update({0x3A + i: 0x3B + i for i in range(10)})  # F1..F10
HID_TO_SCANCODE.update({0x68 + i: 0x64 + i for i in range(11)})  # F13..F23
HID_TO_SCANCODE.update(
    {
        0x28: 0x1C,  # Enter
        0x29: 0x01,  # Escape
        0x2A: 0x0E,  # Backspace
        0x2B: 0x0F,  # Tab
        0x2C: 0x39,  # Space
        0x2D: 0x0C,  # Minus
        0x2E: 0x0D,  # Equal (^ on JIS)
        0x2F: 0x1A,  # BracketLeft (@ on JIS)
        0x30: 0x1B,  # BracketRight ([ on JIS)
        0x31: 0x2B,  # Backslash (] on JIS)
        0x32: 0x2B,  # Non-US # (same key position)
        0x33: 0x27,  # Semicolon
        0x34: 0x28,  # Quote (: on JIS)
        0x35: 0x29,  # Backquote = 半角/全角 on JIS
        0x36: 0x33,  # Comma
        0x37: 0x34,  # Period
        0x38: 0x35,  # Slash
        0x39: 0x3A,  # CapsLock = 英数 on JIS
        0x44: 0x57,  # F11
        0x45: 0x58,  # F12
        0x46: EXTENDED | 0x37,  # PrintScreen
        0x47: 0x46,  # ScrollLock
        0x49: EXTENDED | 0x52,  # Insert
        0x4A: EXTENDED | 0x47,  # Home
        0x4B: EXTENDED | 0x49,  # PageUp
        0x4C: EXTENDED | 0x53,  # Delete
        0x4D: EXTENDED | 0x4F,  # End
        0x4E: EXTENDED | 0x51,  # PageDown
        0x4F: EXTENDED | 0x4D,  # ArrowRight
        0x50: EXTENDED | 0x4B,  # ArrowLeft
        0x51: EXTENDED | 0x50,  # ArrowDown
        0x52: EXTENDED | 0x48,  # ArrowUp
        0x54: EXTENDED | 0x35,  # NumpadDivide
        0x55: 0x37,  # NumpadMultiply
        0x56: 0x4A,  # NumpadSubtract
        0x57: 0x4E,  # NumpadAdd
        0x58: EXTENDED | 0x1C,  # NumpadEnter
        0x59: 0x4F,  # Numpad1
        0x5A: 0x50,  # Numpad2
        0x5B: 0x51,  # Numpad3
        0x5C: 0x4B,  # Numpad4
        0x5D: 0x4C,  # Numpad5
        0x5E: 0x4D,  # Numpad6
        0x5F: 0x47,  # Numpad7
        0x60: 0x48,  # Numpad8
        0x61: 0x49,  # Numpad9
        0x62: 0x52,  # Numpad0
        0x63: 0x53,  # NumpadDecimal
        0x64: 0x56,  # IntlBackslash
        0x65: EXTENDED | 0x5D,  # ContextMenu
        0x66: EXTENDED | 0x5E,  # Power
        0x67: 0x59,  # NumpadEqual
        0x73: 0x76,  # F24
        0x7F: EXTENDED | 0x20,  # AudioVolumeMute
        0x80: EXTENDED | 0x30,  # AudioVolumeUp
        0x81: EXTENDED | 0x2E,  # AudioVolumeDown
        0x85: 0x7E,  # NumpadComma
        0x87: 0x73,  # IntlRo (ろ)
        0x88: 0x70,  # KanaMode (カタカナ/ひらがな)
        0x89: 0x7D,  # IntlYen (¥)
        0x8A: 0x79,  # Convert (変換)
        0x8B: 0x7B,  # NonConvert (無変換)
        0x92: 0x78,  # Lang3
        0x93: 0x77,  # Lang4
        0xE0: 0x1D,  # ControlLeft
        0xE1: 0x2A,  # ShiftLeft
        0xE2: 0x38,  # AltLeft
        0xE3: EXTENDED | 0x5B,  # MetaLeft (Windows key)
        0xE4: EXTENDED | 0x1D,  # ControlRight
        0xE5: 0x36,  # ShiftRight
        0xE6: EXTENDED | 0x38,  # AltRight (AltGr)
        0xE7: EXTENDED | 0x5C,  # MetaRight
    }
)

VK_PAUSE = 0x13
VK_NUMLOCK = 0x90
VK_IME_ON = 0x16
VK_IME_OFF = 0x1A
# Keys sent as (virtual key, scancode for information): Pause and Num Lock because their scancode is
# ambiguous; a Mac JIS keyboard's かな (Lang1) and 英数 (Lang2) because their scancodes (0x72, 0x71:
# the Korean 한/영 and 한자 keys) mean nothing to a Japanese layout, while VK_IME_ON / VK_IME_OFF
# (Windows 10 1903 and later) set the IME on and off, as those keys do on a Mac.
HID_TO_VIRTUAL_KEY: dict[int, tuple[int, int]] = {
    0x48: (VK_PAUSE, 0x45),
    0x53: (VK_NUMLOCK, EXTENDED | 0x45),
    0x90: (VK_IME_ON, 0x72),
    0x91: (VK_IME_OFF, 0x71),
}


def scancode(usage: int) -> int | None:
    """The set-1 scancode (0xE0xx when extended) of a keyboard-page usage, or None."""
    if usage >> 16 != KEYBOARD_PAGE:
        return None
    return HID_TO_SCANCODE.get(usage & 0xFFFF)


def virtual_key(usage: int) -> tuple[int, int] | None:
    if usage >> 16 != KEYBOARD_PAGE:
        return None
    return HID_TO_VIRTUAL_KEY.get(usage & 0xFFFF)
