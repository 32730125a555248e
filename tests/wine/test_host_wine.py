"""Host privacy for real: `WindowsHostControl(Win32Host())` under Wine.

What Wine cannot prove here (fake-only, tests/unit/test_host.py): SetWindowDisplayAffinity
(WDA_EXCLUDEFROMCAPTURE: Wine returns 0, so a curtain the capture would see is taken down and
"monitor_curtained" is never reported), BlockInput (returns 0, error 120), LockWorkStation (returns 0),
SendSAS, the WTS lock state (WTSSessionInfoEx: None under Wine), the Winlogon / secure desktop and
more than one monitor (Xvfb gives one).
"""

from __future__ import annotations

from typing import Any

import pytest

from .harness import WinePython

WHITE, BLACK = 0xFFFFFF, 0x000000


@pytest.fixture(scope="module")
def host(wine: WinePython) -> dict[str, Any]:
    got = wine.run("host_probe.py")
    assert got.get("error") is None, got.get("traceback")
    return got


def test_curtain_windows_are_never_shown_when_exclusion_is_refused(host: dict[str, Any]) -> None:
    assert host["white"] == WHITE
    windows, pixel, refusals = host["created"][:-2], host["created"][-2], host["created"][-1:]
    assert windows == [{"visible": False, "topmost": True, "rect": [0, 0, 1920, 1080]}]  # one per monitor
    assert pixel == {"pixel": WHITE}  # hidden until excluded from capture: the desk sees no flash
    assert [r["affinity"] for r in refusals] == [False]  # Wine: SetWindowDisplayAffinity fails
    assert host["curtain_on"] == []  # no curtain, no input block
    assert host["left_after_refusal"] == 0 and host["thread_after_refusal"] is False
    assert host["pixel_after_refusal"] == WHITE


def test_curtain_off_destroys_every_window_and_ends_the_thread(host: dict[str, Any]) -> None:
    """Affinity faked as granted (fake-only): the windows stay up until set_curtain(False)."""
    assert host["granted_on"] == ["monitor_curtained"]  # BlockInput still refused under Wine
    assert host["granted_created"][-1] == {"shown": [True], "pixel": BLACK}  # shown once excluded
    assert host["granted_open"] == 1 and host["granted_pixel"] == BLACK
    assert host["curtain_off"] == ["released"]
    assert host["left_after_off"] == 0 and host["thread_after_off"] is False
    assert host["pixel_after_off"] == WHITE


def test_lock_and_block_input_fail_cleanly_and_state_reports_the_user(host: dict[str, Any]) -> None:
    assert host["lock"] is False  # LockWorkStation returns 0 under Wine: the error path, no crash
    assert host["block_input"] is False
    assert host["user"]  # WTSUserName: the Wine user
    assert host["locked"] is None  # Wine cannot say
