"""Usage reports (the telework effect report), computed from session records (pure).

Definitions, all in Japan time:
- a period is a day (00:00-24:00), a week (from Monday) or a calendar month;
- `sessions`: sessions that started in the period;
- `hours`: session time inside the period (a session across midnight or a month end is split at the
  boundary, so each period gets exactly its share);
- `avg_hours`: mean full length of the sessions that started in the period;
- `users`: distinct staff with session time in the period;
- `peak`: the largest number of sessions live at the same moment within the period;
- by hour of day: session time falling in each clock hour (0-23) over the whole range.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jiseki.i18n import JST

from .scope import WHOLE, Scope
from .spreadsheet import BOM, append_row, csv_writer

PERIODS = ("day", "week", "month")
GROUPS = ("all", "department", "user")


@dataclass(frozen=True)
class Span:
    user_id: str
    department: str
    start: dt.datetime
    end: dt.datetime  # an ongoing session ends "now" for the report


@dataclass
class Row:
    period: dt.date  # first day of the period
    group: str  # "" for all, else the department or the user id
    sessions: int = 0
    seconds: float = 0.0
    started_seconds: float = 0.0  # full length of the sessions started in the period
    users: set[str] = field(default_factory=set)
    peak: int = 0

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def avg_hours(self) -> float:
        return self.started_seconds / 3600 / self.sessions if self.sessions else 0.0


def period_start(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def next_period(start: dt.date, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=JST)


def periods(first: dt.date, last: dt.date, period: str) -> Iterator[tuple[dt.date, dt.datetime, dt.datetime]]:
    """(label, start, end) of every period touching [first, last)."""
    p = period_start(first, period)
    while p < last:
        nxt = next_period(p, period)
        yield p, _midnight(p), _midnight(nxt)
        p = nxt


def _group_key(span: Span, group: str) -> str:
    return "" if group == "all" else span.department if group == "department" else span.user_id


def _peak(spans: list[tuple[dt.datetime, dt.datetime]]) -> int:
    events = sorted([(s, 1) for s, _e in spans] + [(e, -1) for _s, e in spans])  # ends sort before starts at a tie
    live = best = 0
    for _t, delta in events:
        live += delta
        best = max(best, live)
    return best


def usage(
    spans: Iterable[Span],
    first: dt.date,
    last: dt.date,
    period: str = "day",
    group: str = "all",
    every: Iterable[str] = (),
) -> list[Row]:
    """Rows for every period in [first, last) (Japan dates) and every group with activity in it, and
    also every group of `every` (e.g. all departments: one with no use is listed with zero)."""
    every = list(every) if group != "all" else []
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}")
    spans = [s for s in spans if s.end > s.start]
    every_period = list(periods(first, last, period))
    rows: list[Row] = []
    for (label, p_start, p_end), touching in zip(every_period, _by_period(spans, every_period), strict=True):
        by_group: dict[str, Row] = {}
        pieces: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        for s in touching:
            a, b = max(s.start, p_start), min(s.end, p_end)
            started_here = p_start <= s.start < p_end
            if b <= a and not started_here:
                continue
            key = _group_key(s, group)
            row = by_group.setdefault(key, Row(label, key))
            if b > a:
                row.seconds += (b - a).total_seconds()
                row.users.add(s.user_id)
                pieces[key].append((a, b))
            if started_here:
                row.sessions += 1
                row.started_seconds += (s.end - s.start).total_seconds()
        for key, row in by_group.items():
            row.peak = _peak(pieces[key])
        if group == "all" and "" not in by_group:
            by_group[""] = Row(label, "")
        for key in every:
            by_group.setdefault(key, Row(label, key))
        rows.extend(sorted(by_group.values(), key=lambda r: r.group))
    return rows


def _by_period(spans: list[Span], every_period: list[tuple[dt.date, dt.datetime, dt.datetime]]) -> list[list[Span]]:
    """The spans each period must look at: those overlapping it or starting in it. Each span goes to
    the few periods it touches (found by bisection), not every period to every span: 30 days of
    100,000 sessions is 100,000 steps, not 3 million."""
    starts = [p_start for _label, p_start, _p_end in every_period]
    touching: list[list[Span]] = [[] for _ in every_period]
    if not starts:
        return touching
    for s in spans:
        lo = max(bisect_right(starts, s.start) - 1, 0)
        hi = bisect_left(starts, s.end)  # periods starting before the span ends
        for i in range(lo, min(hi, len(starts))):
            touching[i].append(s)
    return touching


JST_OFFSET = 9 * 3600  # Japan has no daylight saving time: a clock hour is (epoch + 9 h) // 1 h


def by_hour(spans: Iterable[Span], first: dt.date, last: dt.date) -> list[float]:
    """Session hours per clock hour (0-23, Japan time) within [first, last). In whole seconds from
    the epoch, not datetimes: a month of a prefecture's sessions is a million hour pieces."""
    hours = [0.0] * 24
    lo, hi = _midnight(first).timestamp(), _midnight(last).timestamp()
    for s in spans:
        t, end = max(s.start.timestamp(), lo) + JST_OFFSET, min(s.end.timestamp(), hi) + JST_OFFSET
        while t < end:
            boundary = (t // 3600 + 1) * 3600
            piece = min(boundary, end)
            hours[int(t // 3600) % 24] += (piece - t) / 3600
            t = piece
    return hours


# ---- loading and exporting ------------------------------------------------------------------------


async def load_spans(s: Any, first: dt.date, last: dt.date, now: dt.datetime, scope: Scope = WHOLE) -> list[Span]:
    """Sessions with time inside [first, last) (Japan dates) and in `scope`, from the database."""
    from sqlalchemy import or_, select

    from .db.models import Department, Session, User

    lo, hi = _midnight(first), _midnight(last)
    query = (
        select(Session.user_id, Department.name, Session.started_at, Session.ended_at)
        .join(User, User.id == Session.user_id, isouter=True)
        .join(Department, Department.id == User.department_id, isouter=True)
        .where(Session.started_at.is_not(None), Session.started_at < hi)
        .where(or_(Session.ended_at.is_(None), Session.ended_at > lo))
        .where(scope.sessions())
    )
    return [
        Span(user or "—", dept or "—", start, end or now) for user, dept, start, end in (await s.execute(query)).all()
    ]


async def department_names(s: Any, scope: Scope = WHOLE) -> list[str]:
    """Every department of the scope (a report by department lists those with no use too)."""
    from sqlalchemy import select

    from .db.models import Department, User

    query = select(Department.name)
    if not scope.everything:
        query = query.where(Department.id.in_(select(User.department_id).where(scope.users())))
    return [str(name) for name in (await s.execute(query)).scalars()]


COLUMNS = ("period", "group", "sessions", "hours", "avg_hours", "users", "peak")
HEADERS = {
    "period": "Period",
    "group": "Group",
    "sessions": "Number of sessions",
    "hours": "Total time (h:min)",
    "avg_hours": "Average time (h:min)",
    "users": "Distinct users",
    "peak": "Peak concurrent sessions",
}


def hours_minutes(seconds: float) -> str:
    """時間:分 (3:05 is three hours and five minutes), rounded to the minute."""
    minutes = round(max(seconds, 0) / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def table(rows: list[Row]) -> list[list[Any]]:
    """The rows as text for a CSV: times as 時間:分."""
    return [
        [
            r.period.isoformat(),
            r.group,
            r.sessions,
            hours_minutes(r.seconds),
            hours_minutes(r.avg_hours * 3600),
            len(r.users),
            r.peak,
        ]
        for r in rows
    ]


def write_csv(rows: list[Row], out: Any, translate: Any = lambda m: m) -> None:
    out.write(BOM)  # Excel reads UTF-8 only with a BOM
    writer = csv_writer(out)  # a department may start with "=": text, never a formula
    writer.writerow([translate(HEADERS[c]) for c in COLUMNS])
    writer.writerows(table(rows))


DURATION_FORMAT = "[h]:mm"  # Excel shows 3:05 and adds them up as times


def write_xlsx(rows: list[Row], hours: list[float], path: Any, translate: Any = lambda m: m) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.worksheets[0]  # the one sheet a new workbook holds (`active` is typed optional)
    sheet.title = translate("Usage")
    append_row(sheet, [translate(HEADERS[c]) for c in COLUMNS])
    # Row numbers are counted here: `max_row` scans every cell, which made 150,000 rows quadratic.
    for number, r in enumerate(rows, start=2):
        total = dt.timedelta(minutes=round(r.seconds / 60))
        average = dt.timedelta(minutes=round(r.avg_hours * 60))
        # str cells as text: openpyxl would store "=..." as a formula
        append_row(sheet, [r.period.isoformat(), r.group, r.sessions, total, average, len(r.users), r.peak])
        sheet.cell(number, 4).number_format = DURATION_FORMAT
        sheet.cell(number, 5).number_format = DURATION_FORMAT
    hourly = book.create_sheet(translate("By hour of day"))
    append_row(hourly, [translate("Hour"), translate("Total time (h:min)")])
    for number, value in enumerate(hours, start=2):
        append_row(hourly, [f"{number - 2:02d}:00", dt.timedelta(minutes=round(value * 60))])
        hourly.cell(number, 2).number_format = DURATION_FORMAT
    book.save(path)
