"""Usage reports: generated sessions give exactly the totals a brute-force count gives."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest

from jiseki.gateway.reports import Span, by_hour, usage
from jiseki.i18n import JST

DEPTS = ("総務課", "財政課", "福祉課")


def t(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=JST)


def generated(seed: int = 7, count: int = 300) -> list[Span]:
    rng = random.Random(seed)
    spans = []
    for i in range(count):
        user = f"u{rng.randrange(40):02d}"
        dept = DEPTS[int(user[1:]) % 3]
        start = t(25, 0) + dt.timedelta(minutes=rng.randrange(0, 10 * 24 * 60))  # Nov 25 .. Dec 5
        length = dt.timedelta(minutes=rng.choice((5, 30, 90, 240, 600, 1500)))  # some cross midnight
        spans.append(Span(user, dept, start, start + length))
    # Exactly across a month end and a midnight, in UTC storage as the database returns it.
    spans.append(Span("u99", "総務課", t(30, 22).astimezone(dt.UTC), dt.datetime(2026, 12, 1, 2, tzinfo=JST)))
    return spans


def brute_force(spans: list[Span], first: dt.date, last: dt.date, group: str) -> dict[tuple[dt.date, str], dict]:
    """Minute by minute, independently of the implementation's interval arithmetic."""
    out: dict[tuple[dt.date, str], dict] = defaultdict(
        lambda: {"sessions": 0, "minutes": 0, "users": set(), "peak": 0, "started_minutes": 0}
    )
    key = (
        (lambda s: "")
        if group == "all"
        else (lambda s: s.department)
        if group == "department"
        else (lambda s: s.user_id)
    )
    minute = dt.datetime(first.year, first.month, first.day, tzinfo=JST)
    end = dt.datetime(last.year, last.month, last.day, tzinfo=JST)
    while minute < end:
        live: dict[str, int] = defaultdict(int)
        for s in spans:
            if s.start <= minute < s.end:
                k = key(s)
                cell = out[(minute.date(), k)]
                cell["minutes"] += 1
                cell["users"].add(s.user_id)
                live[k] += 1
        for k, n in live.items():
            out[(minute.date(), k)]["peak"] = max(out[(minute.date(), k)]["peak"], n)
        minute += dt.timedelta(minutes=1)
    for s in spans:
        local = s.start.astimezone(JST)
        if first <= local.date() < last:
            cell = out[(local.date(), key(s))]
            cell["sessions"] += 1
            cell["started_minutes"] += (s.end - s.start).total_seconds() / 60
    return out


@pytest.mark.parametrize("group", ["all", "department", "user"])
def test_daily_totals_match_a_brute_force_count(group: str) -> None:
    spans = generated()
    first, last = dt.date(2026, 11, 28), dt.date(2026, 12, 3)
    rows = usage(spans, first, last, "day", group)
    expected = brute_force(spans, first, last, group)
    got = {(r.period, r.group): r for r in rows}
    for cell_key, cell in expected.items():
        if not cell["minutes"] and not cell["sessions"]:
            continue
        row = got[cell_key]
        assert row.seconds == cell["minutes"] * 60, cell_key  # all starts are on whole minutes
        assert row.sessions == cell["sessions"], cell_key
        assert len(row.users) == len(cell["users"]), cell_key
        assert row.peak == cell["peak"], cell_key
        if row.sessions:
            assert row.avg_hours == pytest.approx(cell["started_minutes"] / 60 / row.sessions)
    assert {k for k, r in got.items() if r.seconds or r.sessions} == {
        k for k, c in expected.items() if c["minutes"] or c["sessions"]
    }


def test_month_end_split_and_month_totals() -> None:
    night = [Span("u1", "総務課", t(30, 22), dt.datetime(2026, 12, 1, 2, tzinfo=JST))]
    days = {r.period: r for r in usage(night, dt.date(2026, 11, 30), dt.date(2026, 12, 2), "day")}
    assert days[dt.date(2026, 11, 30)].hours == 2 and days[dt.date(2026, 11, 30)].sessions == 1
    assert days[dt.date(2026, 12, 1)].hours == 2 and days[dt.date(2026, 12, 1)].sessions == 0
    months = {r.period: r for r in usage(night, dt.date(2026, 11, 1), dt.date(2027, 1, 1), "month")}
    assert months[dt.date(2026, 11, 1)].hours == 2 and months[dt.date(2026, 12, 1)].hours == 2
    assert months[dt.date(2026, 11, 1)].avg_hours == 4  # the full length of the session started there


def test_weeks_start_on_monday_and_totals_add_up() -> None:
    spans = generated(seed=3)
    first, last = dt.date(2026, 11, 30), dt.date(2026, 12, 7)  # Monday .. next Monday
    week = usage(spans, first, last, "week")
    days = usage(spans, first, last, "day")
    assert [r.period for r in week] == [dt.date(2026, 11, 30)]
    assert week[0].seconds == pytest.approx(sum(r.seconds for r in days))
    assert week[0].sessions == sum(r.sessions for r in days)
    assert week[0].peak == max(r.peak for r in days)  # a peak is a moment: it lies within one day


def test_by_hour_of_day_in_japan_time() -> None:
    span = Span(
        "u1", "総務課", dt.datetime(2026, 11, 27, 0, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
    )
    hours = by_hour([span], dt.date(2026, 11, 27), dt.date(2026, 11, 28))
    assert hours[9] == 0.5 and hours[10] == 1.0 and sum(hours) == 1.5  # 09:30-11:00 JST


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize("group", ["all", "department", "user"])
def test_spans_are_found_by_period_as_by_looking_at_every_span(
    period: str, group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each period looks only at the spans touching it (bisection); the rows are those of a scan of
    every span for every period, for sessions crossing midnight, weeks and months, and still open."""
    from jiseki.gateway import reports

    rnd = random.Random(period + group)
    first, last = dt.date(2026, 10, 20), dt.date(2026, 12, 6)
    base = dt.datetime(2026, 10, 18, tzinfo=JST)
    spans = []
    for i in range(400):
        start = base + dt.timedelta(minutes=rnd.randrange(0, 50 * 24 * 60))
        end = start + dt.timedelta(minutes=rnd.choice([0, 5, 90, 600, 2000, 20000]))
        spans.append(Span(f"u{i % 17}", f"d{i % 5}", start, end))
    fast = usage(spans, first, last, period, group, ["d9"])
    monkeypatch.setattr(reports, "_by_period", lambda spans, every: [list(spans) for _ in every])
    assert fast == usage(spans, first, last, period, group, ["d9"])


def test_hours_by_clock_hour_match_a_walk_through_japan_time() -> None:
    """by_hour counts in epoch seconds shifted by nine hours; a walk with aware datetimes in Asia/Tokyo
    gives the same hours (sessions crossing midnight, the range's ends, odd seconds)."""
    rnd = random.Random(11)
    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 8)
    base = dt.datetime(2026, 10, 31, 20, tzinfo=JST)
    spans = []
    for i in range(300):
        start = base + dt.timedelta(seconds=rnd.randrange(0, 9 * 86400), microseconds=rnd.randrange(10**6))
        spans.append(Span(f"u{i}", "d", start, start + dt.timedelta(seconds=rnd.randrange(0, 30 * 3600))))

    expected = [0.0] * 24
    lo, hi = dt.datetime(2026, 11, 1, tzinfo=JST), dt.datetime(2026, 11, 8, tzinfo=JST)
    for s in spans:
        t, end = max(s.start, lo).astimezone(JST), min(s.end, hi).astimezone(JST)
        while t < end:
            piece = min(t.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1), end)
            expected[t.hour] += (piece - t).total_seconds() / 3600
            t = piece
    assert by_hour(spans, first, last) == pytest.approx(expected, abs=1e-6)
