"""Input mapping that needs no X server: HID usages to evdev codes and the wheel accumulator."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jiseki.agent.input.base import WheelAccumulator
from jiseki.agent.input.hid_evdev import evdev_code
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
