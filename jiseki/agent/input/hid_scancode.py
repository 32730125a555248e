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

# Set-1 scancode -> the virtual key of the Japanese 106/109 layout (kbd106.dll), for the wVk of a
# KEYEVENTF_SCANCODE event. Windows ignores wVk with that flag (it maps the scancode through the
# active layout itself); Wine does not: without wVk its messages carry VK 0 and no WM_CHAR, and its
# own table maps 0x7D and 0x73 to 0 (docs/windows.md). Source: Microsoft's scancode ->
# VK table for the Japanese 106 keyboard ("Japanese Keyboard", Windows Embedded CE 6.0 docs,
# learn.microsoft.com/previous-versions/windows/embedded/ee483466), the same T29/T3A/T70... values
# kbd106.c builds from kbdjpn.h. 0x29 半角/全角 is VK_DBE_SBCSCHAR = VK_OEM_AUTO (0xF3), 0x3A 英数
# VK_DBE_ALPHANUMERIC (0xF0), 0x70 ひらがな VK_DBE_HIRAGANA (0xF2), 0x73 ろ VK_OEM_102 (0xE2), 0x79 変換
# VK_CONVERT (0x1C), 0x7B 無変換 VK_NONCONVERT (0x1D), 0x7D ¥ VK_OEM_5 (0xDC). The numpad keys get
# their digit VKs (Num Lock on); keys the table leaves without a VK get 0.
_ROW = "1234567890"
SCANCODE_TO_VK: dict[int, int] = {0x02 + i: ord(c) for i, c in enumerate(_ROW)}
SCANCODE_TO_VK.update({sc: ord("A") + i for i, sc in enumerate(_LETTERS)})
SCANCODE_TO_VK.update({0x3B + i: 0x70 + i for i in range(10)})  # F1..F10
SCANCODE_TO_VK.update({0x64 + i: 0x7C + i for i in range(11)})  # F13..F23
SCANCODE_TO_VK.update(
    {
        0x01: 0x1B,  # VK_ESCAPE
        0x0C: 0xBD,  # VK_OEM_MINUS
        0x0D: 0xDE,  # VK_OEM_7 (^)
        0x0E: 0x08,  # VK_BACK
        0x0F: 0x09,  # VK_TAB
        0x1A: 0xC0,  # VK_OEM_3 (@)
        0x1B: 0xDB,  # VK_OEM_4 ([)
        0x1C: 0x0D,  # VK_RETURN
        0x1D: 0xA2,  # VK_LCONTROL
        0x27: 0xBB,  # VK_OEM_PLUS (;)
        0x28: 0xBA,  # VK_OEM_1 (:)
        0x29: 0xF3,  # VK_OEM_AUTO = VK_DBE_SBCSCHAR (半角/全角)
        0x2A: 0xA0,  # VK_LSHIFT
        0x2B: 0xDD,  # VK_OEM_6 (])
        0x33: 0xBC,  # VK_OEM_COMMA
        0x34: 0xBE,  # VK_OEM_PERIOD
        0x35: 0xBF,  # VK_OEM_2 (/)
        0x36: 0xA1,  # VK_RSHIFT
        0x37: 0x6A,  # VK_MULTIPLY
        0x38: 0xA4,  # VK_LMENU
        0x39: 0x20,  # VK_SPACE
        0x3A: 0xF0,  # VK_OEM_ATTN = VK_DBE_ALPHANUMERIC (英数 / Caps Lock)
        0x46: 0x91,  # VK_SCROLL
        0x47: 0x67,  # VK_NUMPAD7
        0x48: 0x68,  # VK_NUMPAD8
        0x49: 0x69,  # VK_NUMPAD9
        0x4A: 0x6D,  # VK_SUBTRACT
        0x4B: 0x64,  # VK_NUMPAD4
        0x4C: 0x65,  # VK_NUMPAD5
        0x4D: 0x66,  # VK_NUMPAD6
        0x4E: 0x6B,  # VK_ADD
        0x4F: 0x61,  # VK_NUMPAD1
        0x50: 0x62,  # VK_NUMPAD2
        0x51: 0x63,  # VK_NUMPAD3
        0x52: 0x60,  # VK_NUMPAD0
        0x53: 0x6E,  # VK_DECIMAL
        0x56: 0xE2,  # VK_OEM_102 (ISO key; not on JIS keyboards)
        0x57: 0x7A,  # VK_F11
        0x58: 0x7B,  # VK_F12
        0x59: 0x0C,  # VK_CLEAR (NumpadEqual)
        0x70: 0xF2,  # VK_OEM_COPY = VK_DBE_HIRAGANA (カタカナ/ひらがな)
        0x73: 0xE2,  # VK_OEM_102 (ろ)
        0x76: 0x87,  # VK_F24
        0x79: 0x1C,  # VK_CONVERT (変換)
        0x7B: 0x1D,  # VK_NONCONVERT (無変換)
        0x7D: 0xDC,  # VK_OEM_5 (¥)
        0x7E: 0xC2,  # VK_ABNT_C2 (NumpadComma)
        EXTENDED | 0x1C: 0x0D,  # VK_RETURN (NumpadEnter)
        EXTENDED | 0x1D: 0xA3,  # VK_RCONTROL
        EXTENDED | 0x20: 0xAD,  # VK_VOLUME_MUTE
        EXTENDED | 0x2E: 0xAE,  # VK_VOLUME_DOWN
        EXTENDED | 0x30: 0xAF,  # VK_VOLUME_UP
        EXTENDED | 0x35: 0x6F,  # VK_DIVIDE
        EXTENDED | 0x37: 0x2C,  # VK_SNAPSHOT
        EXTENDED | 0x38: 0xA5,  # VK_RMENU
        EXTENDED | 0x47: 0x24,  # VK_HOME
        EXTENDED | 0x48: 0x26,  # VK_UP
        EXTENDED | 0x49: 0x21,  # VK_PRIOR
        EXTENDED | 0x4B: 0x25,  # VK_LEFT
        EXTENDED | 0x4D: 0x27,  # VK_RIGHT
        EXTENDED | 0x4F: 0x23,  # VK_END
        EXTENDED | 0x50: 0x28,  # VK_DOWN
        EXTENDED | 0x51: 0x22,  # VK_NEXT
        EXTENDED | 0x52: 0x2D,  # VK_INSERT
        EXTENDED | 0x53: 0x2E,  # VK_DELETE
        EXTENDED | 0x5B: 0x5B,  # VK_LWIN
        EXTENDED | 0x5C: 0x5C,  # VK_RWIN
        EXTENDED | 0x5D: 0x5D,  # VK_APPS
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


def scancode_vk(code: int) -> int:
    """The Japanese 106/109 layout's virtual key for a scancode (0xE0xx when extended), or 0."""
    return SCANCODE_TO_VK.get(code, 0)


def virtual_key(usage: int) -> tuple[int, int] | None:
    if usage >> 16 != KEYBOARD_PAGE:
        return None
    return HID_TO_VIRTUAL_KEY.get(usage & 0xFFFF)
