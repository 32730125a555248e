"""The organisation's default policy and the holiday calendar (pure, fake clocks): precedence of the
default, refusals on national holidays (jpholiday) and closed days, the next allowed time, a live
session running into a holiday at midnight, and the refusal's Japanese text."""

from __future__ import annotations

import datetime as dt

from jiseki.cli import build_parser
from jiseki.cli.policy import settings_from_args, target_of
from jiseki.gateway.access import policy_refusal
from jiseki.gateway.holidays import CLOSED_DAY, HOLIDAY, Calendar, DayOff, days_off, national_holiday
from jiseki.gateway.policy import (
    DEFAULT,
    JST,
    ORGANISATION,
    Policy,
    combine,
    next_allowed,
    seconds_until_window_end,
    time_denial,
)
from jiseki.gateway.rules import End, SessionRules, Warn
from jiseki.gateway.web.pages import refusal_text
from jiseki.i18n import gettext


def jst(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=JST)


def year_end(first: int = 2026) -> Calendar:
    """年末年始: 12/29 to 1/3, as a prefecture closes."""
    start = dt.date(first, 12, 29)
    return Calendar(tuple((start + dt.timedelta(days=d), "年末年始") for d in range(6)))


OFFICE = Policy("department:総務課", days="mon,tue,wed,thu,fri", start="08:30", end="17:15")
REFUSE = Policy(ORGANISATION, on_holidays=False)


def translate(lang: str):  # type: ignore[no-untyped-def]
    def _(msgid: str, /, **values: object) -> str:
        text = gettext(lang, msgid)
        return text.format(**values) if values else text

    return _


# ---- the organisation's default ----------------------------------------------------------------


def test_organisation_default_sits_between_the_built_in_default_and_departments_and_groups() -> None:
    org = Policy(ORGANISATION, idle_minutes=30, clipboard="both", watermark=False, on_holidays=False)
    alone = combine([], org)
    assert (alone.idle_minutes, alone.sources["idle_minutes"]) == (30, ORGANISATION)
    assert alone.clipboard == "both" and not alone.watermark and not alone.on_holidays
    assert alone.sources["view_only"] == DEFAULT.name  # not set by the organisation: built in
    # A department's value replaces the organisation's, even a less restrictive one (precedence).
    dept = Policy("department:総務課", idle_minutes=120, on_holidays=True)
    eff = combine([dept], org)
    assert (eff.idle_minutes, eff.sources["idle_minutes"]) == (120, "department:総務課")
    assert eff.on_holidays and eff.sources["on_holidays"] == "department:総務課"
    assert eff.clipboard == "both" and eff.sources["clipboard"] == ORGANISATION
    # Between a department and a PC group the most restrictive value still wins.
    group = Policy("host_group:本庁舎", idle_minutes=10, on_holidays=False, clipboard="to_host")
    both = combine([dept, group], org)
    assert (both.idle_minutes, both.sources["idle_minutes"]) == (10, "host_group:本庁舎")
    assert not both.on_holidays and both.sources["on_holidays"] == "host_group:本庁舎"
    assert both.clipboard == "to_host"
    assert combine([dept, group]).clipboard == "to_host"  # the same without an organisation default


def test_cli_sets_the_organisation_default() -> None:
    args = build_parser().parse_args(["policy", "set", "--organisation", "--on-holidays", "no", "--idle-minutes", "30"])
    assert target_of(args) == ("organisation", "")
    assert settings_from_args(args) == {"on_holidays": False, "idle_minutes": 30}


# ---- the calendar ------------------------------------------------------------------------------


def test_national_holidays_come_from_jpholiday() -> None:
    assert national_holiday(dt.date(2027, 1, 1)) == "元日"
    assert national_holiday(dt.date(2027, 1, 11)) == "成人の日"
    assert national_holiday(dt.date(2027, 1, 12)) is None
    calendar = year_end()
    assert calendar.day_off(dt.date(2026, 12, 30)) == DayOff(dt.date(2026, 12, 30), CLOSED_DAY, "年末年始")
    assert calendar.day_off(dt.date(2027, 1, 1)) == DayOff(dt.date(2027, 1, 1), HOLIDAY, "元日")  # named as a holiday
    assert calendar.day_off(dt.date(2027, 1, 4)) is None
    listed = days_off(calendar, dt.date(2026, 12, 28), dt.date(2027, 1, 12))
    assert [(d.day.isoformat(), d.kind) for d in listed][:3] == [
        ("2026-12-29", CLOSED_DAY),
        ("2026-12-30", CLOSED_DAY),
        ("2026-12-31", CLOSED_DAY),
    ]
    assert ("2027-01-01", HOLIDAY) in [(d.day.isoformat(), d.kind) for d in listed]
    assert ("2027-01-01", CLOSED_DAY) in [(d.day.isoformat(), d.kind) for d in listed]  # both kinds listed
    assert listed[-1] == DayOff(dt.date(2027, 1, 11), HOLIDAY, "成人の日")


def test_holidays_are_allowed_unless_a_policy_refuses_them() -> None:
    allowed = combine([OFFICE], None, year_end())
    assert allowed.on_holidays and time_denial(allowed, jst(2026, 12, 30, 10)) is None
    assert time_denial(allowed, jst(2027, 1, 11, 10)) is None  # 成人の日, a Monday


def test_a_closed_day_refuses_and_the_next_time_skips_the_new_year_holidays() -> None:
    eff = combine([OFFICE], REFUSE, year_end())
    denial = time_denial(eff, jst(2026, 12, 30, 10))
    assert denial is not None and denial.reason == CLOSED_DAY and denial.policy == ORGANISATION
    assert denial.day == DayOff(dt.date(2026, 12, 30), CLOSED_DAY, "年末年始")
    # 12/31 … 1/3 closed, 1/1 元日, 1/2–1/3 a weekend: Monday 1/4 at the window's start.
    assert next_allowed(eff, jst(2026, 12, 30, 10)) == jst(2027, 1, 4, 8, 30).astimezone(dt.UTC)
    # On the evening of the last working day, the next time is after the closure, not the next morning.
    assert next_allowed(eff, jst(2026, 12, 28, 18)) == jst(2027, 1, 4, 8, 30).astimezone(dt.UTC)
    holiday = time_denial(eff, jst(2027, 1, 1, 9))
    assert holiday is not None and holiday.reason == HOLIDAY and holiday.day is not None and holiday.day.name == "元日"


def test_a_national_holiday_refuses_and_the_next_day_is_allowed() -> None:
    eff = combine([OFFICE], REFUSE)  # national holidays need no closed days
    denial = time_denial(eff, jst(2027, 1, 11, 9))
    assert denial is not None and (denial.reason, denial.day) == (
        HOLIDAY,
        DayOff(dt.date(2027, 1, 11), HOLIDAY, "成人の日"),
    )
    assert next_allowed(eff, jst(2027, 1, 11, 9)) == jst(2027, 1, 12, 8, 30).astimezone(dt.UTC)
    assert time_denial(eff, jst(2027, 1, 12, 9)) is None


def test_the_refusal_names_the_day_and_the_next_time_in_japanese_and_english() -> None:
    eff = combine([OFFICE], REFUSE, year_end())
    refusal = policy_refusal(eff, jst(2026, 12, 30, 10))
    assert refusal is not None and refusal.reason == CLOSED_DAY
    assert refusal_text(translate("ja"), refusal) == (
        "本日（12/30）は閉庁日（年末年始）のため接続できません。次に接続できるのは 2027/01/04（月）08:30 です。"
    )
    english = refusal_text(translate("en"), refusal)
    assert english == (
        "Today (12/30) is a closed day (年末年始), so you cannot connect. "
        "The next time you can connect is 2027/01/04 (Mon) 08:30."
    )
    holiday = policy_refusal(eff, jst(2027, 1, 11, 7))
    assert holiday is not None
    assert refusal_text(translate("ja"), holiday).startswith("本日（1/11）は祝日（成人の日）のため接続できません。")


def test_a_live_session_running_into_a_holiday_is_warned_then_ended_at_midnight() -> None:
    anytime = Policy("department:総務課", on_holidays=False)
    eff = combine([anytime])
    evening = jst(2027, 1, 10, 23, 55)  # Sunday night; Monday 1/11 is 成人の日
    assert seconds_until_window_end(eff, evening) == 300.0
    assert seconds_until_window_end(combine([]), evening) is None  # holidays allowed: no end
    rules = SessionRules(eff, 0.0, evening)
    assert rules.tick(239.0) is None
    assert rules.tick(241.0) == Warn("hours", 59)
    assert rules.tick(300.0) == End("hours")
    # A closed day added while the session runs: the re-read policy carries the new calendar.
    tonight = jst(2027, 1, 12, 23, 50)
    rules = SessionRules(eff, 0.0, tonight)
    assert rules.tick(100.0) is None  # no day off ahead: no end
    closed = combine([anytime], None, Calendar(((dt.date(2027, 1, 13), "県民の日"),)))
    assert closed != eff
    rules.update_policy(closed, 100.0, tonight + dt.timedelta(seconds=100))
    assert rules.tick(530.0) is None
    assert rules.tick(541.0) == Warn("hours", 59)
    assert rules.tick(600.0) == End("hours")
