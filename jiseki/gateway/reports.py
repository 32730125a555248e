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
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jiseki.i18n import JST

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


def usage(spans: Iterable[Span], first: dt.date, last: dt.date, period: str = "day", group: str = "all") -> list[Row]:
    """Rows for every period in [first, last) (Japan dates) and every group with activity in it."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}")
    spans = [s for s in spans if s.end > s.start]
    rows: list[Row] = []
    for label, p_start, p_end in periods(first, last, period):
        by_group: dict[str, Row] = {}
        pieces: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        for s in spans:
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
        rows.extend(sorted(by_group.values(), key=lambda r: r.group))
    return rows


def by_hour(spans: Iterable[Span], first: dt.date, last: dt.date) -> list[float]:
    """Session hours per clock hour (0-23, Japan time) within [first, last)."""
    hours = [0.0] * 24
    lo, hi = _midnight(first), _midnight(last)
    for s in spans:
        t, end = max(s.start, lo).astimezone(JST), min(s.end, hi).astimezone(JST)
        while t < end:
            boundary = t.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
            piece = min(boundary, end)
            hours[t.hour] += (piece - t).total_seconds() / 3600
            t = piece
    return hours


# ---- loading and exporting ------------------------------------------------------------------------


async def load_spans(s: Any, first: dt.date, last: dt.date, now: dt.datetime) -> list[Span]:
    """Sessions with time inside [first, last) (Japan dates), from the database."""
    from sqlalchemy import or_, select

    from .db.models import Department, Session, User

    lo, hi = _midnight(first), _midnight(last)
    query = (
        select(Session.user_id, Department.name, Session.started_at, Session.ended_at)
        .join(User, User.id == Session.user_id, isouter=True)
        .join(Department, Department.id == User.department_id, isouter=True)
        .where(Session.started_at.is_not(None), Session.started_at < hi)
        .where(or_(Session.ended_at.is_(None), Session.ended_at > lo))
    )
    return [
        Span(user or "—", dept or "—", start, end or now) for user, dept, start, end in (await s.execute(query)).all()
    ]


COLUMNS = ("period", "group", "sessions", "hours", "avg_hours", "users", "peak")
HEADERS = {
    "period": "Period",
    "group": "Group",
    "sessions": "Number of sessions",
    "hours": "Total hours",
    "avg_hours": "Average hours",
    "users": "Distinct users",
    "peak": "Peak concurrent sessions",
}


def table(rows: list[Row]) -> list[list[Any]]:
    return [
        [r.period.isoformat(), r.group, r.sessions, round(r.hours, 2), round(r.avg_hours, 2), len(r.users), r.peak]
        for r in rows
    ]


def write_csv(rows: list[Row], out: Any, translate: Any = lambda m: m) -> None:
    out.write(BOM)  # Excel reads UTF-8 only with a BOM
    writer = csv_writer(out)  # a department may start with "=": text, never a formula
    writer.writerow([translate(HEADERS[c]) for c in COLUMNS])
    writer.writerows(table(rows))


def write_xlsx(rows: list[Row], hours: list[float], path: Any, translate: Any = lambda m: m) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.worksheets[0]  # the one sheet a new workbook holds (`active` is typed optional)
    sheet.title = translate("Usage")
    append_row(sheet, [translate(HEADERS[c]) for c in COLUMNS])
    for values in table(rows):
        append_row(sheet, values)  # str cells as text: openpyxl would store "=..." as a formula
    hourly = book.create_sheet(translate("By hour of day"))
    append_row(hourly, [translate("Hour"), translate("Total hours")])
    for hour, value in enumerate(hours):
        append_row(hourly, [f"{hour:02d}:00", round(value, 2)])
    book.save(path)
