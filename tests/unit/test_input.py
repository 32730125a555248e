"""Input mapping that needs no X server: HID usages to evdev codes and the wheel accumulator."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jiseki.agent.input.base import WheelAccumulator
from jiseki.agent.input.hid_evdev import evdev_code
from jiseki.agent.input.x11_xim import forwarded_keys
from jiseki.protocol.keycodes import dom_code_to_usage


def test_every_dom_code_in_the_table_reaches_an_evdev_key() -> None:
    missing = [code for code, usage in dom_code_to_usage().items() if evdev_code(usage) is None]
    assert missing == []


def test_japanese_keys() -> None:
    table = dom_code_to_usage()
    # evdev: KEY_GRAVE 41 (半角/全角 position), KEY_RO 89, KEY_YEN 124, KEY_HENKAN 92, KEY_MUHENKAN 94,
    # KEY_KATAKANAHIRAGANA 93.
    assert evdev_code(table["Backquote"]) == 41
    assert evdev_code(table["IntlRo"]) == 89
    assert evdev_code(table["IntlYen"]) == 124
    assert evdev_code(table["Convert"]) == 92
    assert evdev_code(table["NonConvert"]) == 94
    assert evdev_code(table["KanaMode"]) == 93
    assert evdev_code(table["KeyA"]) == 30


def test_other_pages_are_ignored() -> None:
    assert evdev_code(0x000C00E9) is None  # consumer page: not a keyboard key


def test_wheel_notches() -> None:
    acc = WheelAccumulator()
    assert acc.add(0, 60) == (0, 0)
    assert acc.add(0, 60) == (0, 1)
    assert acc.add(0, -240) == (0, -2)
    assert acc.add(-130, 0) == (-1, 0)


@given(st.lists(st.integers(-2000, 2000), max_size=100))
def test_wheel_never_loses_or_doubles(deltas: list[int]) -> None:
    acc = WheelAccumulator()
    total = sum(acc.add(0, d)[1] for d in deltas)
    assert total == int(sum(deltas) / 120) or abs(total * 120 - sum(deltas)) < 120


# As recorded from fcitx5 on Xvfb (event fields after the keycode zeroed): a ChangeProperty that
# writes XIM_FORWARD_EVENT (a KeyPress of keycode 38) to the application's window, then the
# SendEvent that announces it.
_FORWARD = bytes.fromhex(
    "1202110025004000a30100001f000000080000002c000000"  # ChangeProperty, format 8, 44 bytes
    "3c000a00010001000100b407"  # XIM_FORWARD_EVENT, im 1, ic 1, synchronous, serial
    "0226"
    + "00" * 30  # the X event: KeyPress, keycode 38
    + "19000b00250040000000000021200000250040007b0100002c000000a3010000000000000000000000000000"
)


def test_forwarded_key_events_are_read_from_recorded_requests() -> None:
    assert forwarded_keys(_FORWARD, swapped=False) == [(2, 38)]
    release = bytearray(_FORWARD)
    release[24 + 12] = 3  # the event's type: KeyRelease
    release[24 + 13] = 93
    assert forwarded_keys(bytes(release) * 2, swapped=False) == [(3, 93), (3, 93)]
    # Other XIM messages and other properties are not key events; cut data stops the parse.
    other = bytearray(_FORWARD)
    other[24] = 63  # XIM_COMMIT
    assert forwarded_keys(bytes(other), swapped=False) == []
    assert forwarded_keys(_FORWARD[:30], swapped=False) == []
    assert forwarded_keys(b"", swapped=False) == []


def test_a_swapped_client_is_read_in_its_byte_order() -> None:
    swapped = bytearray(_FORWARD[:68])
    swapped[2:4] = (17).to_bytes(2, "big")
    swapped[20:24] = (44).to_bytes(4, "big")
    assert forwarded_keys(bytes(swapped), swapped=True) == [(2, 38)]
