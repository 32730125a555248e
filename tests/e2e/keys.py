"""Key events as a browser on a JIS keyboard delivers them, injected through Chrome DevTools.

`Input.dispatchKeyEvent` makes Chromium fire real (trusted) KeyboardEvents with the code, key and
keyCode we choose -- including the Windows quirks (no keyup for 半角/全角, keyCode 229) -- and the
timestamps we choose, so the viewer's real JavaScript handles exactly the fixture sequences.
"""

from __future__ import annotations

import time
from typing import Any

WINDOWS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)

# A JIS keyboard: character -> (code, shift, key value, Windows virtual key).
JIS_CHARS: dict[str, tuple[str, bool, str, int]] = {}
for _c in "abcdefghijklmnopqrstuvwxyz":
    JIS_CHARS[_c] = (f"Key{_c.upper()}", False, _c, ord(_c.upper()))
for _d in "0123456789":
    JIS_CHARS[_d] = (f"Digit{_d}", False, _d, ord(_d))
for _ch, _code, _vk in [
    ("-", "Minus", 189), ("^", "Equal", 222), ("\\", "IntlYen", 220), ("@", "BracketLeft", 192),
    ("[", "BracketRight", 219), (";", "Semicolon", 187), (":", "Quote", 186), ("]", "Backslash", 221),
    (",", "Comma", 188), (".", "Period", 190), ("/", "Slash", 191), (" ", "Space", 32),
]:  # fmt: skip
    JIS_CHARS[_ch] = (_code, False, _ch, _vk)
for _ch, _code, _vk in [
    ("!", "Digit1", 49), ('"', "Digit2", 50), ("#", "Digit3", 51), ("$", "Digit4", 52), ("%", "Digit5", 53),
    ("&", "Digit6", 54), ("'", "Digit7", 55), ("(", "Digit8", 56), (")", "Digit9", 57), ("=", "Minus", 189),
    ("~", "Equal", 222), ("|", "IntlYen", 220), ("`", "BracketLeft", 192), ("{", "BracketRight", 219),
    ("+", "Semicolon", 187), ("*", "Quote", 186), ("}", "Backslash", 221), ("<", "Comma", 188),
    (">", "Period", 190), ("?", "Slash", 191), ("_", "IntlRo", 226),
]:  # fmt: skip
    JIS_CHARS[_ch] = (_code, True, _ch, _vk)

SHIFT = 8  # CDP modifier bit


class Keys:
    def __init__(self, context: Any, page: Any) -> None:
        self.cdp = context.new_cdp_session(page)
        self.base = time.time() + 30.0  # fixture timestamps are placed in the future: no timer fires

    def send(self, kind: str, code: str, key: str, key_code: int, **extra: Any) -> None:
        params = {"type": kind, "code": code, "key": key, "windowsVirtualKeyCode": key_code, **extra}
        self.cdp.send("Input.dispatchKeyEvent", params)

    def down(self, code: str, key: str, key_code: int, **extra: Any) -> None:
        self.send("rawKeyDown", code, key, key_code, **extra)

    def up(self, code: str, key: str, key_code: int, **extra: Any) -> None:
        self.send("keyUp", code, key, key_code, **extra)

    def tap(self, code: str, key: str, key_code: int, **extra: Any) -> None:
        self.down(code, key, key_code, **extra)
        self.up(code, key, key_code, **extra)

    def fixture_event(self, event: dict[str, Any], offset: float) -> None:
        """One event of tests/vectors/keyboard_quirks.json, at its own timestamp."""
        if event["type"] == "timer":
            return
        kind = "rawKeyDown" if event["type"] == "keydown" else "keyUp"
        extra: dict[str, Any] = {"timestamp": self.base + offset + event["timeStamp"] / 1000}
        if event.get("repeat"):
            extra["autoRepeat"] = True
        self.send(kind, event["code"], event["key"], event["keyCode"], **extra)

    def type_jis(self, text: str) -> None:
        """Type ASCII text with the physical keys of a JIS keyboard (Shift where JIS needs it)."""
        for ch in text:
            code, shift, key, vk = JIS_CHARS[ch]
            if shift:
                self.down("ShiftLeft", "Shift", 16, modifiers=SHIFT)
            self.tap(code, key, vk, modifiers=SHIFT if shift else 0)
            if shift:
                self.up("ShiftLeft", "Shift", 16)

    def ctrl(self, letter: str) -> None:
        self.down("ControlLeft", "Control", 17, modifiers=2)
        self.tap(f"Key{letter.upper()}", letter, ord(letter.upper()), modifiers=2)
        self.up("ControlLeft", "Control", 17)

    def enter(self) -> None:
        self.tap("Enter", "Enter", 13)


def emulate_windows(context: Any, page: Any) -> Any:
    """Make the page believe it runs on Windows (navigator.platform), before it loads.

    Returns the DevTools session: keep it referenced, the override lives as long as it does."""
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setUserAgentOverride", {"userAgent": WINDOWS_UA, "platform": "Win32"})
    return cdp
