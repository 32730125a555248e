"""Policy combination, allowed hours and the session rules (pure, fake clocks)."""

from __future__ import annotations

import datetime as dt

import pytest

from jiseki.gateway.policy import DEFAULT, JST, Policy, PolicyError, combine, seconds_until_window_end, time_denial
from jiseki.gateway.rules import End, SessionRules, Verdict, Warn
from jiseki.protocol import Clipboard, Key, Pointer, Refresh

DEPT = Policy("所属:総務課", clipboard="both", idle_minutes=30, days="mon,tue,wed,thu,fri", start="08:00", end="20:00")
HOSTS = Policy(
    "PCグループ:本庁", clipboard="to_host", idle_minutes=10, max_minutes=480, view_only=False, conflict="takeover"
)


def jst(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=JST)


def test_defaults_without_policies() -> None:
    eff = combine([])
    assert eff.clipboard == "none" and not eff.view_only and eff.watermark and eff.lock_on_end
    assert eff.conflict == "refuse" and eff.idle_minutes == 0 and len(eff.days) == 7
    assert all(source == DEFAULT.name for source in eff.sources.values())


def test_most_restrictive_wins_and_names_its_source() -> None:
    eff = combine([DEPT, HOSTS])
    assert eff.clipboard == "to_host"  # both ∩ to_host
    assert eff.idle_minutes == 10 and eff.sources["idle_minutes"] == "PCグループ:本庁"
    assert eff.max_minutes == 480
    assert eff.conflict == "takeover"  # only one policy sets it
    assert eff.clipboard_allowed(to_host=True) and not eff.clipboard_allowed(to_host=False)
    assert combine([DEPT, Policy("x", conflict="refuse"), HOSTS]).conflict == "refuse"
    assert combine([Policy("a", view_only=True), Policy("b", view_only=False)]).view_only
    assert combine([Policy("a", clipboard="to_host"), Policy("b", clipboard="to_terminal")]).clipboard == "none"
    assert combine([Policy("a", idle_minutes=0), Policy("b", idle_minutes=15)]).idle_minutes == 15


def test_validation_names_the_setting() -> None:
    with pytest.raises(PolicyError, match="clipboard: must be one of"):
        Policy("x", clipboard="sometimes").validated()
    with pytest.raises(PolicyError, match="idle_minutes: must be an integer"):
        Policy("x", idle_minutes=-1).validated()
    with pytest.raises(PolicyError, match="days: 'sun_day'"):
        Policy("x", days="mon,sun_day").validated()
    with pytest.raises(PolicyError, match="start: must be a time"):
        Policy("x", start="8 o'clock", end="20:00").validated()
    with pytest.raises(PolicyError, match="give both or neither"):
        Policy("x", start="08:00").validated()


def test_allowed_days_and_hours_in_japan_time() -> None:
    eff = combine([DEPT])
    assert time_denial(eff, jst(2026, 11, 27, 9)) is None  # a Friday morning
    denial = time_denial(eff, jst(2026, 11, 28, 9))  # Saturday
    assert denial is not None and denial.reason == "days" and denial.policy == "所属:総務課"
    assert time_denial(eff, jst(2026, 11, 27, 7, 59)).reason == "hours"  # type: ignore[union-attr]
    assert time_denial(eff, jst(2026, 11, 27, 20, 0)).reason == "hours"  # type: ignore[union-attr]
    # The same instant given in UTC is judged in Japan time.
    assert time_denial(eff, dt.datetime(2026, 11, 27, 0, 30, tzinfo=dt.UTC)) is None  # 09:30 JST


def test_window_crossing_midnight() -> None:
    night = combine([Policy("夜間", start="22:00", end="06:00")])
    assert time_denial(night, jst(2026, 11, 27, 23)) is None
    assert time_denial(night, jst(2026, 11, 28, 5, 59)) is None
    assert time_denial(night, jst(2026, 11, 28, 6)) is not None


def test_seconds_until_window_end() -> None:
    eff = combine([DEPT])
    assert seconds_until_window_end(eff, jst(2026, 11, 27, 19, 50)) == 600
    assert seconds_until_window_end(combine([]), jst(2026, 11, 27, 19, 50)) is None
    assert seconds_until_window_end(eff, jst(2026, 11, 28, 10)) == 0.0


def test_rules_drop_input_in_view_only_and_forbidden_clipboard() -> None:
    rules = SessionRules(combine([Policy("閲覧", view_only=True)]), 0.0, jst(2026, 11, 27, 9))
    assert rules.from_viewer(Key(0x00070004, True), 1.0).verdict is Verdict.DROP
    assert rules.from_viewer(Pointer(1, 1, 0), 1.0).reason == "view_only"
    assert rules.from_viewer(Refresh(), 1.0).verdict is Verdict.FORWARD
    decision = rules.from_viewer(Clipboard("機密"), 1.0)
    assert decision.verdict is Verdict.DROP and decision.reason == "view_only"  # decided before the clipboard
    forbidden = SessionRules(combine([]), 0.0, jst(2026, 11, 27, 9)).from_viewer(Clipboard("機密"), 1.0)
    assert forbidden.verdict is Verdict.DROP and forbidden.reason == "clipboard_forbidden"
    assert decision.clipboard == {"direction": "to_host", "bytes": 6, "sha256": decision.clipboard["sha256"]}
    assert "機密" not in str(decision)  # metadata only, never the content


@pytest.mark.parametrize("mode", ["to_host", "both"])
def test_view_only_lets_nothing_from_the_terminal_reach_the_pc(mode: str) -> None:
    policy = combine([Policy("窓口", view_only=True), Policy("課", clipboard=mode)])
    rules = SessionRules(policy, 0.0, jst(2026, 11, 27, 9))
    decision = rules.from_viewer(Clipboard("端末の文字"), 1.0)
    assert decision.verdict is Verdict.DROP and decision.reason == "view_only"
    assert decision.clipboard is not None and decision.clipboard["direction"] == "to_host"  # audited as clipboard
    # The agent is told the same: no terminal clipboard; the office PC's may still come out if allowed.
    assert policy.for_agent()["view_only"] is True
    assert policy.for_agent()["clipboard"] == ("to_terminal" if mode == "both" else "none")
    assert policy.session_clipboard == policy.for_agent()["clipboard"]
    both = rules.from_agent(Clipboard("庁内"))
    assert both.verdict is (Verdict.FORWARD if mode == "both" else Verdict.DROP)


def test_rules_clipboard_directions_and_size() -> None:
    rules = SessionRules(combine([Policy("p", clipboard="to_terminal", clipboard_max_bytes=10)]), 0, jst(2026, 1, 5, 9))
    assert rules.from_agent(Clipboard("short")).verdict is Verdict.FORWARD
    assert rules.from_agent(Clipboard("x" * 11)).reason == "clipboard_too_large"
    assert rules.from_viewer(Clipboard("short"), 0).reason == "clipboard_forbidden"


def test_idle_warning_then_end_and_input_resets() -> None:
    rules = SessionRules(combine([Policy("p", idle_minutes=5)]), 0.0, jst(2026, 11, 27, 9))
    assert rules.tick(100.0) is None
    assert rules.tick(241.0) == Warn("idle", 59)  # one minute before 300 s
    assert rules.tick(242.0) is None  # warned once
    rules.from_viewer(Key(0x00070004, True), 250.0)  # input resets the idle clock
    assert rules.tick(300.0) is None
    assert rules.tick(491.0) == Warn("idle", 59)
    assert rules.tick(550.0) == End("idle")


def test_max_length_and_hours_end() -> None:
    rules = SessionRules(combine([Policy("p", max_minutes=60)]), 0.0, jst(2026, 11, 27, 9))
    rules.from_viewer(Key(1, True), 3500.0)
    assert rules.tick(3541.0) == Warn("max_length", 59)
    assert rules.tick(3600.0) == End("max_length")
    evening = SessionRules(combine([DEPT]), 0.0, jst(2026, 11, 27, 19, 55))  # window ends in 300 s
    assert evening.tick(239.0) is None
    assert evening.tick(241.0) == Warn("hours", 59)
    assert evening.tick(300.0) == End("hours")


def test_policy_change_applies_new_limits() -> None:
    rules = SessionRules(combine([]), 0.0, jst(2026, 11, 27, 9))
    assert rules.tick(10_000.0) is None
    rules.update_policy(combine([Policy("p", max_minutes=1)]), 10_000.0, jst(2026, 11, 27, 12))
    assert rules.tick(10_001.0) == End("max_length")  # started long ago: over the new maximum at once


def test_sources_read_in_the_readers_language() -> None:
    from jiseki.gateway.web.policy_labels import source_text

    def english(msgid: str, **values: str) -> str:
        return msgid.format(**values)

    assert source_text(english, "department:総務課") == "Department 総務課"
    assert source_text(english, "host_group:本庁舎, default") == "PC group 本庁舎, Default"
    assert source_text(english, "something else") == "something else"  # unknown kinds stay as they are
