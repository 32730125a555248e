"""The Windows input backend for real: `WindowsInput(Win32Input())` under Wine, every injected event
read back from the message loop of the selftest's `Win32ProbeWindow`.

What Wine cannot prove here: Japanese layout behaviour (Wine ignores LoadKeyboardLayout("00000411"),
so no JIS characters and no IME reaction to 変換/半角全角: scancodes and VKs only), that real
Windows ignores wVk with KEYEVENTF_SCANCODE (Wine uses it), SendSAS (Ctrl+Alt+Del), input on the
Winlogon / secure desktop, UIPI (input into elevated windows) and mouse acceleration settings.
"""

from __future__ import annotations

from typing import Any

import pytest

from .harness import WinePython

KEYBOARD = 0x07 << 16
SHIFT_DOWN = [KEYBOARD | 0xE1, 1, 0x2A, 0x10]  # usage, down, scancode, VK_SHIFT in wParam
SHIFT_UP = [KEYBOARD | 0xE1, 0, 0x2A, 0x10]
# name -> (HID usage id, native scancode as the window saw it, VK in wParam)
EXPECTED = {
    "yen": (0x89, 0x7D, 0xDC),  # VK_OEM_5
    "ro": (0x87, 0x73, 0xE2),  # VK_OEM_102
    "henkan": (0x8A, 0x79, 0x1C),  # VK_CONVERT
    "muhenkan": (0x8B, 0x7B, 0x1D),  # VK_NONCONVERT
    "kana": (0x88, 0x70, 0xF2),  # VK_OEM_COPY = VK_DBE_HIRAGANA
    "hankaku": (0x35, 0x29, 0xF3),  # VK_OEM_AUTO = VK_DBE_SBCSCHAR
    "a": (0x04, 0x1E, 0x41),
    "enter": (0x28, 0x1C, 0x0D),
    "left": (0x50, 0xE04B, 0x25),
    "right_ctrl": (0xE4, 0xE01D, 0x11),  # messages carry VK_CONTROL, not VK_RCONTROL
    "numpad_enter": (0x58, 0xE01C, 0x0D),
}


@pytest.fixture(scope="module")
def keys(wine: WinePython) -> dict[str, Any]:
    got = wine.run("input_probe.py", "keys")
    assert got.get("error") is None, got.get("traceback")
    return got


def test_probe_window_is_painted_and_focused(keys: dict[str, Any]) -> None:
    assert keys["pixel"] == 0xFF0000  # COLORREF of BGR (255, 0, 0) read from the screen
    assert keys["focused"] is True


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_keys_arrive_with_their_scancode_and_virtual_key(keys: dict[str, Any], name: str) -> None:
    uid, native, vk = EXPECTED[name]
    usage = KEYBOARD | uid
    assert keys[name] == [[usage, 1, native, vk], [usage, 0, native, vk]]
    assert keys[name + "+shift"] == [SHIFT_DOWN, [usage, 1, native, vk], [usage, 0, native, vk], SHIFT_UP]
    assert keys["late"] == []  # nothing extra arrived


def test_text_arrives_as_characters_with_a_surrogate_pair(wine: WinePython) -> None:
    got = wine.run("input_probe.py", "text")
    assert got.get("error") is None, got.get("traceback")
    assert got["text"] == "日本語😀"
    downs = [e for e in got["packets"] if e[1]]
    assert len(downs) == 5 and {e[3] for e in downs} == {0xE7}  # VK_PACKET, 😀 as two units


def test_pointer_lands_on_every_pixel_asked_and_the_wheel_turns(wine: WinePython) -> None:
    got = wine.run("input_probe.py", "mouse")
    assert got.get("error") is None, got.get("traceback")
    assert got["screen"] == [0, 0, 1920, 1080]
    assert len(got["points"]) == 20
    for (x, y), clicks in zip(got["points"], got["clicks"], strict=True):
        assert clicks == [[x, y, 1]], (x, y)
    assert got["buttons"] == [[960, 540, 2], [960, 540, 3], [960, 540, 8], [960, 540, 9]]  # X11 numbers
    assert got["wheel"] == [["y", -120], ["y", 120], ["x", 120]]


def test_key_round_trip_time(wine: WinePython) -> None:
    """SendInput to WM_KEYDOWN in the probe window's message loop, 50 keys (docs/windows.md)."""
    got = wine.run("input_probe.py", "latency")
    assert got.get("error") is None, got.get("traceback")
    assert len(got["times_ms"]) == 50
    print(f"key round trip under Wine: median {got['median_ms']:.2f} ms, max {max(got['times_ms']):.2f} ms")
    assert got["median_ms"] < 50
