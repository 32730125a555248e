"""The Windows input backend against a fake Win32 API (the real one needs Windows, which CI lacks)."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence

import pytest

from jiseki.agent.input.hid_scancode import EXTENDED, HID_TO_SCANCODE, scancode, scancode_vk
from jiseki.agent.input.windows import WindowsInput, _absolute
from jiseki.agent.win32.input import (
    INPUT,
    KEYEVENTF_EXTENDEDKEY,
    KEYEVENTF_KEYUP,
    KEYEVENTF_SCANCODE,
    KEYEVENTF_UNICODE,
    MOUSEEVENTF_ABSOLUTE,
    MOUSEEVENTF_HWHEEL,
    MOUSEEVENTF_LEFTDOWN,
    MOUSEEVENTF_LEFTUP,
    MOUSEEVENTF_MOVE,
    MOUSEEVENTF_VIRTUALDESK,
    MOUSEEVENTF_WHEEL,
    MOUSEEVENTF_XDOWN,
    VK_CAPITAL,
    VK_KANA,
    VK_NUMLOCK,
    XBUTTON1,
    KeyInput,
    MouseInput,
    Win32Input,
    to_struct,
)
from jiseki.protocol import BUTTON_BACK, BUTTON_LEFT, LOCK_CAPS, LOCK_KANA, LOCK_NUM, KeyboardLayout, LayoutKey
from jiseki.protocol.keycodes import dom_code_to_usage

USAGE = dom_code_to_usage()
SC = KEYEVENTF_SCANCODE
VK_A = 0x41
VK_LSHIFT = 0xA0
UP = KEYEVENTF_KEYUP
EXT = KEYEVENTF_EXTENDEDKEY


class FakeWin32:
    """Records what would have gone to SendInput and friends."""

    def __init__(self) -> None:
        self.sent: list[KeyInput | MouseInput] = []
        self.toggled: dict[int, bool] = {}
        self.sas = 0
        self.screen = (0, 0, 3840, 1080)
        self.chars: dict[int, str] = {}

    def send(self, events: Sequence[KeyInput | MouseInput]) -> int:
        self.sent.extend(events)
        for e in events:  # a lock key tap toggles, as on Windows
            if isinstance(e, KeyInput) and e.vk and not e.flags & (KEYEVENTF_KEYUP | KEYEVENTF_SCANCODE):
                self.toggled[e.vk] = not self.toggled.get(e.vk, False)
        return len(events)

    def key_toggled(self, vk: int) -> bool:
        return self.toggled.get(vk, False)

    def virtual_screen(self) -> tuple[int, int, int, int]:
        return self.screen

    def send_sas(self) -> bool:
        self.sas += 1
        return True

    def keyboard_layout(self, scancodes: Sequence[int]) -> tuple[str, dict[int, str]]:
        return "00000411", {sc: ch for sc, ch in self.chars.items() if sc in scancodes}

    def take(self) -> list[KeyInput | MouseInput]:
        out, self.sent = self.sent, []
        return out


@pytest.fixture
def win() -> tuple[WindowsInput, FakeWin32]:
    api = FakeWin32()
    return WindowsInput(api), api


def test_input_structure_has_the_windows_x64_layout() -> None:
    assert ctypes.sizeof(INPUT) == (40 if ctypes.sizeof(ctypes.c_void_p) == 8 else 28)
    wheel = to_struct(MouseInput(0, 0, -120, MOUSEEVENTF_WHEEL))
    assert wheel.u.mi.mouseData == 0xFFFFFF88  # a DWORD holding -120


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_the_real_api_refuses_to_start_off_windows() -> None:
    with pytest.raises(OSError):
        Win32Input()


@pytest.mark.parametrize(
    ("code", "sc", "vk"),
    [
        ("Backquote", 0x29, 0xF3),  # 半角/全角: VK_OEM_AUTO (VK_DBE_SBCSCHAR)
        ("KanaMode", 0x70, 0xF2),  # カタカナ/ひらがな: VK_OEM_COPY (VK_DBE_HIRAGANA)
        ("IntlRo", 0x73, 0xE2),  # ろ: VK_OEM_102
        ("Convert", 0x79, 0x1C),  # 変換: VK_CONVERT
        ("NonConvert", 0x7B, 0x1D),  # 無変換: VK_NONCONVERT
        ("IntlYen", 0x7D, 0xDC),  # ¥: VK_OEM_5
    ],
)
def test_jis_keys_are_their_set1_scancodes(win: tuple[WindowsInput, FakeWin32], code: str, sc: int, vk: int) -> None:
    """The scancode decides on Windows; the virtual key (the JIS 106/109 layout's) is for Wine, which
    needs wVk filled even with KEYEVENTF_SCANCODE."""
    sink, api = win
    sink.key(USAGE[code], True)
    sink.key(USAGE[code], False)
    assert api.take() == [KeyInput(vk, sc, SC), KeyInput(vk, sc, SC | UP)]


def test_every_scancode_has_a_virtual_key_but_power_and_the_lang_keys() -> None:
    no_vk = {EXTENDED | 0x5E, 0x77, 0x78}  # Power, Lang4, Lang3: no VK on the JIS layout
    assert sorted(sc for sc in set(HID_TO_SCANCODE.values()) if not scancode_vk(sc)) == sorted(no_vk)


def test_every_key_of_the_table_can_be_sent() -> None:
    # Lang5 has no Windows scancode (Japanese keyboards put 半角/全角 on Backquote); Pause and
    # Num Lock go as virtual keys.
    by_virtual_key = ("Lang5", "Pause", "NumLock", "Lang1", "Lang2")
    missing = [code for code, usage in USAGE.items() if scancode(usage) is None and code not in by_virtual_key]
    assert missing == []


@pytest.mark.parametrize(
    ("code", "sc"),
    [("ArrowUp", 0x48), ("ControlRight", 0x1D), ("NumpadEnter", 0x1C), ("MetaLeft", 0x5B), ("AltRight", 0x38)],
)
def test_extended_keys_carry_the_flag(win: tuple[WindowsInput, FakeWin32], code: str, sc: int) -> None:
    sink, api = win
    sink.key(USAGE[code], True)
    assert api.take() == [KeyInput(scancode_vk(EXTENDED | sc), sc, SC | EXT)]
    assert scancode_vk(EXTENDED | sc) != 0


def test_pause_and_num_lock_go_as_virtual_keys(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    sink.key(USAGE["Pause"], True)
    sink.key(USAGE["NumLock"], True)
    assert api.take() == [KeyInput(0x13, 0x45, 0), KeyInput(VK_NUMLOCK, 0x45, EXT)]


def test_mac_kana_and_eisu_keys_turn_the_ime_on_and_off(win: tuple[WindowsInput, FakeWin32]) -> None:
    """Issue 12 item 23: a Mac JIS keyboard's かな (Lang1) and 英数 (Lang2) go as VK_IME_ON and
    VK_IME_OFF, which set the Japanese IME's state (their scancodes 0x72/0x71 are Korean keys that
    Japanese layouts do not turn into IME on/off)."""
    sink, api = win
    for code in ("Lang1", "Lang2"):
        sink.key(USAGE[code], True)
        sink.key(USAGE[code], False)
    assert api.take() == [
        KeyInput(0x16, 0x72, 0),
        KeyInput(0x16, 0x72, UP),
        KeyInput(0x1A, 0x71, 0),
        KeyInput(0x1A, 0x71, UP),
    ]


def test_repeat_and_stray_release(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    a = USAGE["KeyA"]
    sink.key(USAGE["KeyB"], False)  # never pressed: nothing
    sink.key(a, True)
    sink.key(a, True)  # autorepeat: Windows repeats nothing injected, so we do
    sink.key(a, False)
    sink.key(a, False)
    assert api.take() == [KeyInput(VK_A, 0x1E, SC), KeyInput(VK_A, 0x1E, SC), KeyInput(VK_A, 0x1E, SC | UP)]


def test_ctrl_alt_del_becomes_the_secure_attention_sequence(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    for code in ("ControlLeft", "AltLeft", "Delete"):
        sink.key(USAGE[code], True)
    for code in ("Delete", "AltLeft", "ControlLeft"):
        sink.key(USAGE[code], False)
    assert api.sas == 1
    sent = api.take()
    assert all(isinstance(e, KeyInput) and e.scan != 0x53 for e in sent)  # Delete itself never injected
    assert len(sent) == 4
    sink.key(USAGE["Delete"], True)  # alone it is a normal Delete
    assert api.take() == [KeyInput(0x2E, 0x53, SC | EXT)]  # VK_DELETE


def test_text_is_unicode_with_modifiers_lifted(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    sink.key(USAGE["ShiftLeft"], True)
    api.take()
    sink.text("a𠮷")
    u = KEYEVENTF_UNICODE
    assert api.take() == [
        KeyInput(VK_LSHIFT, 0x2A, SC | UP),
        KeyInput(0, 0x61, u),
        KeyInput(0, 0x61, u | UP),
        KeyInput(0, 0xD842, u),
        KeyInput(0, 0xD842, u | UP),
        KeyInput(0, 0xDFB7, u),
        KeyInput(0, 0xDFB7, u | UP),
        KeyInput(VK_LSHIFT, 0x2A, SC),
    ]


def test_locks_are_tapped_only_when_they_differ(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    api.toggled = {VK_CAPITAL: True, VK_NUMLOCK: False, VK_KANA: True}
    sink.set_locks(LOCK_CAPS | LOCK_NUM, LOCK_CAPS | LOCK_NUM)  # caps already on, num off -> tap num
    assert api.take() == [KeyInput(VK_NUMLOCK, 0, EXT), KeyInput(VK_NUMLOCK, 0, EXT | UP)]
    sink.set_locks(LOCK_CAPS | LOCK_NUM, LOCK_CAPS | LOCK_NUM)
    assert api.take() == []
    sink.set_locks(LOCK_KANA, 0)
    assert api.take() == [KeyInput(VK_KANA, 0, 0), KeyInput(VK_KANA, 0, UP)]
    sink.set_locks(0, 0)  # nothing known: nothing touched
    assert api.take() == []


def test_pointer_spans_the_virtual_desktop(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    move = MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK
    sink.pointer(0, 0, 0)
    sink.pointer(3839, 1079, BUTTON_LEFT)
    sink.pointer(5000, -3, BUTTON_BACK)
    # ceil(x * 65536 / width): the first normalized value Windows maps to pixel x
    assert api.take() == [
        MouseInput(0, 0, 0, move),
        MouseInput(65519, 65476, 0, move),
        MouseInput(0, 0, 0, MOUSEEVENTF_LEFTDOWN),
        MouseInput(65519, 0, 0, move),
        MouseInput(0, 0, 0, MOUSEEVENTF_LEFTUP),
        MouseInput(0, 0, XBUTTON1, MOUSEEVENTF_XDOWN),
    ]


@pytest.mark.parametrize("width", [1, 7, 1080, 1366, 1920, 3840, 5120])
def test_every_pixel_is_reached_exactly(width: int) -> None:
    """Windows maps normalized n to pixel floor(n * width / 65536) (exact under Wine over all points)."""
    for x in range(width):
        n = _absolute(x, width)
        assert 0 <= n <= 65535 and n * width // 65536 == x


def test_wheel_whole_notches_in_windows_direction(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    sink.wheel(0, 60)
    assert api.take() == []
    sink.wheel(0, 60)
    sink.wheel(-240, 0)
    assert api.take() == [MouseInput(0, 0, -120, MOUSEEVENTF_WHEEL), MouseInput(0, 0, -240, MOUSEEVENTF_HWHEEL)]


def test_layout_report(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    api.chars = {0x1E: "a", 0x1A: "@", 0x1B: "[", 0x73: "\\", 0x7D: "\\", 0x29: "\x00"}
    assert sink.layout() == KeyboardLayout(
        "00000411",
        tuple(LayoutKey(u, c) for u, c in ((0x04, 0x61), (0x2F, 0x40), (0x30, 0x5B), (0x87, 0x5C), (0x89, 0x5C))),
    )


def test_release_all(win: tuple[WindowsInput, FakeWin32]) -> None:
    sink, api = win
    sink.key(USAGE["ShiftLeft"], True)
    sink.key(USAGE["KeyA"], True)
    sink.pointer(10, 10, BUTTON_LEFT)
    api.take()
    sink.release_all()
    assert api.take() == [
        KeyInput(VK_A, 0x1E, SC | UP),
        KeyInput(VK_LSHIFT, 0x2A, SC | UP),
        MouseInput(0, 0, 0, MOUSEEVENTF_LEFTUP),
    ]
    sink.release_all()
    assert api.take() == []


def test_scancode_table_has_no_duplicates_except_the_hash_key() -> None:
    seen: dict[int, int] = {}
    for usage_id, sc in HID_TO_SCANCODE.items():
        if sc in seen:
            assert {usage_id, seen[sc]} == {0x31, 0x32}
        seen[sc] = usage_id


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_the_window_modules_refuse_to_start_off_windows() -> None:
    from jiseki.agent.clipboard.windows import WindowsClipboard
    from jiseki.agent.selftest.win32_window import Win32ProbeWindow
    from jiseki.agent.win32.clipboard import Win32Clipboard
    from jiseki.agent.win32.window import WindowThread
    from jiseki.protocol import Rect

    for make in (WindowThread, Win32Clipboard, WindowsClipboard, lambda: Win32ProbeWindow(Rect(0, 0, 10, 10))):
        with pytest.raises(OSError):
            make()


@pytest.mark.parametrize(
    ("msg", "wparam", "lparam", "usage", "down", "native"),
    [
        (0x100, 0x25, 0x014B0001, 0x070050, True, 0xE04B),  # Left arrow: E0 4B
        (0x101, 0xDC, 0xC07D0001, 0x070089, False, 0x7D),  # ¥ released
        (0x104, 0xA5, 0x21380001, 0x0700E6, True, 0xE038),  # Right Alt: WM_SYSKEYDOWN, context bit
        (0x100, 0x2B, 0x002B0001, 0x070031, True, 0x2B),  # 0x2B: Backslash, not Non-US #
        (0x100, 0x90, 0x01450001, 0x070053, True, 0xE045),  # Num Lock (sent by virtual key)
        (0x100, 0x00, 0x00550001, 0, True, 0x55),  # no usage
    ],
)
def test_probe_window_reads_scancodes_from_lparam(
    msg: int, wparam: int, lparam: int, usage: int, down: bool, native: int
) -> None:
    from jiseki.agent.selftest.win32_window import key_event
    from jiseki.agent.selftest.window import KeyEvent

    assert key_event(msg, wparam, lparam) == KeyEvent(usage, down, native, wparam)
