"""Scheduled 電源オン: when a policy's wake period is open and for which start (pure), and what one look does."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.gateway import wake_schedule
from jiseki.gateway.holidays import Calendar
from jiseki.gateway.policy import JST, Policy, combine, next_allowed, time_denial
from jiseki.gateway.wake import SENT, TOO_SOON, WakeResult
from jiseki.gateway.wake_schedule import Due, wake_start

WORKDAYS = Policy("所属:総務課", days="mon,tue,wed,thu,fri", start="08:30", end="17:15", wake_before_minutes=30)


def jst(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=JST)


def test_the_period_opens_the_minutes_before_the_allowed_hours_and_closes_when_they_start() -> None:
    eff = combine([WORKDAYS])
    monday = (2026, 12, 7)
    assert wake_start(eff, jst(*monday, 7, 59)) is None  # 31 minutes before: not yet
    assert wake_start(eff, jst(*monday, 8, 0)) == jst(*monday, 8, 30)
    assert wake_start(eff, jst(*monday, 8, 29)) == jst(*monday, 8, 30)
    assert wake_start(eff, jst(*monday, 8, 30)) is None  # allowed now: a PC switched off stays off
    assert wake_start(eff, jst(*monday, 12, 0)) is None
    assert wake_start(eff, jst(2026, 12, 12, 8, 10)) is None  # a Saturday
    assert wake_start(eff, jst(2026, 12, 6, 23, 59)) is None  # Sunday night: Monday's start is far


def test_off_unless_minutes_and_allowed_hours_are_both_set() -> None:
    monday_early = jst(2026, 12, 7, 8, 10)
    assert wake_start(combine([Policy("p", days="mon", start="08:30", end="17:00")]), monday_early) is None
    assert wake_start(combine([Policy("p", days="tue", wake_before_minutes=240)]), jst(2026, 12, 7, 23, 0)) is None
    # the smallest wins: a PC group's 0 switches a department's schedule off for its PCs
    assert wake_start(combine([WORKDAYS, Policy("PCグループ:会議室", wake_before_minutes=0)]), monday_early) is None
    eff = combine([WORKDAYS, Policy("PCグループ:本庁", wake_before_minutes=10)])
    assert eff.wake_before_minutes == 10 and eff.sources["wake_before_minutes"] == "PCグループ:本庁"
    assert wake_start(eff, monday_early) is None and wake_start(eff, jst(2026, 12, 7, 8, 20)) == jst(2026, 12, 7, 8, 30)
    # the organisation's default applies where neither sets it
    org = Policy("organisation", wake_before_minutes=60)
    eff = combine([Policy("所属", days="mon", start="08:30", end="17:00")], org)
    assert wake_start(eff, jst(2026, 12, 7, 7, 45)) == jst(2026, 12, 7, 8, 30)


def test_holidays_and_closed_days_are_skipped_when_the_policy_refuses_them() -> None:
    adults_day = (2027, 1, 11)  # 成人の日, a Monday
    refusing = combine([Policy("p", on_holidays=False), WORKDAYS])
    assert wake_start(refusing, jst(*adults_day, 8, 10)) is None
    assert wake_start(combine([WORKDAYS]), jst(*adults_day, 8, 10)) == jst(*adults_day, 8, 30)
    closed = Calendar(((dt.date(2026, 12, 28), "年末年始"),))
    assert (
        wake_start(combine([Policy("p", on_holidays=False), WORKDAYS], calendar=closed), jst(2026, 12, 28, 8, 10))
        is None
    )


def test_a_window_across_midnight_wakes_before_its_evening_start() -> None:
    night = combine([Policy("夜間", start="22:00", end="06:00", wake_before_minutes=20)])
    assert wake_start(night, jst(2026, 12, 7, 21, 40)) == jst(2026, 12, 7, 22, 0)
    assert wake_start(night, jst(2026, 12, 7, 21, 39)) is None
    assert wake_start(night, jst(2026, 12, 8, 2, 0)) is None  # inside the window


_times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@settings(max_examples=200, deadline=None)
@given(
    start=_times,
    end=_times,
    days=st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1),
    minutes=st.integers(0, 240),
    on_holidays=st.booleans(),
    offset=st.integers(0, 14 * 24 * 60),
)
def test_a_wake_start_is_the_next_allowed_moment_within_the_minutes(
    start: str, end: str, days: set[str], minutes: int, on_holidays: bool, offset: int
) -> None:
    eff = combine(
        [
            Policy(
                "p",
                start=start,
                end=end,
                days=",".join(sorted(days)),
                wake_before_minutes=minutes,
                on_holidays=on_holidays,
            )
        ]
    )
    now = jst(2026, 12, 28, 0, 0) + dt.timedelta(minutes=offset)  # across 年末年始 and 元日
    got = wake_start(eff, now)
    if got is None:
        if minutes and time_denial(eff, now) is not None:
            following = next_allowed(eff, now, horizon_days=1)
            assert following is None or following - now > dt.timedelta(minutes=minutes)
        return
    assert time_denial(eff, now) is not None and time_denial(eff, got) is None
    assert now < got <= now + dt.timedelta(minutes=minutes)
    assert got == next_allowed(eff, now)


def test_a_look_wakes_its_due_pcs_a_few_at_a_time_and_reports_all_but_those_asked_already(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The orchestration alone (the real wakes and claims: tests/integration/test_wake_schedule.py):
    `due_hosts` and `wake_host` are replaced by recorders."""
    start = jst(2026, 12, 7, 8, 30)
    due = [Due(f"pc-{i:02d}", start, start - dt.timedelta(minutes=30)) for i in range(40)]
    in_flight, most, calls = 0, 0, []

    async def due_hosts(_s: object, _now: dt.datetime) -> list[Due]:
        return due

    async def wake_host(_state: object, host_id: str, actor: str | None, address: str | None, **kw: Any) -> WakeResult:
        nonlocal in_flight, most
        calls.append((host_id, actor, address, kw["not_since"], kw["trigger"]))
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return WakeResult(False, TOO_SOON) if host_id.endswith("7") else WakeResult(True, SENT, "relay", "pc-99", 2)

    @contextlib.asynccontextmanager
    async def db() -> AsyncIterator[None]:
        yield None

    monkeypatch.setattr(wake_schedule, "due_hosts", due_hosts)
    monkeypatch.setattr(wake_schedule, "wake_host", wake_host)
    done = asyncio.run(wake_schedule.run_once(SimpleNamespace(db=db), start))  # type: ignore[arg-type]
    assert most == wake_schedule.CONCURRENT_WAKES < len(due)
    assert sorted(c[0] for c in calls) == [d.host_id for d in due]
    assert all(c[1:] == (None, None, start - dt.timedelta(minutes=30), "schedule") for c in calls)
    assert [host for host, _r in done] == [d.host_id for d in due if not d.host_id.endswith("7")]
