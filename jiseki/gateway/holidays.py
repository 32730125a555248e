"""The holiday calendar: Japan's national holidays (from the `jpholiday` package, which follows the
Cabinet Office's list, substitute holidays included) and the organisation's own closed days (年末年始,
県民の日: `closed_days`, managed in the console), all as Japan-time dates.

`Calendar` is the pure part the policy reads (`jiseki.gateway.policy`: the `on_holidays` setting);
the rest reads and writes the closed days. Each write is one statement (insert … on conflict do
nothing / delete … returning), so two administrators adding or removing the same day at once record
it once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property, lru_cache

import jpholiday
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import JST

from .db.models import ClosedDay, utcnow

HOLIDAY, CLOSED_DAY = "holiday", "closed_day"  # the kinds of day off (and the refusal's reason keys)
MAX_RANGE_DAYS = 366  # one request adds at most this many closed days
LOOKAHEAD_DAYS = 62  # closed days a session's calendar holds ahead of today (next_allowed's horizon and more)


@lru_cache(maxsize=4096)
def national_holiday(day: dt.date) -> str | None:
    """The national holiday's name (元日, 成人の日, 振替休日…) on `day`, or None."""
    name = jpholiday.is_holiday_name(day)
    return str(name) if name else None


@dataclass(frozen=True)
class DayOff:
    day: dt.date
    kind: str  # HOLIDAY (national) or CLOSED_DAY (the organisation's)
    name: str


@dataclass(frozen=True)
class Calendar:
    """The organisation's closed days (Japan-time dates with their names) over the national holidays."""

    closed: tuple[tuple[dt.date, str], ...] = ()

    @cached_property
    def _closed(self) -> dict[dt.date, str]:
        return dict(self.closed)

    def day_off(self, day: dt.date) -> DayOff | None:
        """Why `day` is a day off (a national holiday is named first), or None for a working day."""
        national = national_holiday(day)
        if national is not None:
            return DayOff(day, HOLIDAY, national)
        name = self._closed.get(day)
        return DayOff(day, CLOSED_DAY, name) if name is not None else None

    def any_off(self, first: dt.date, last: dt.date) -> bool:
        """Whether some day from `first` to `last` (inclusive) is a day off."""
        return any(self.day_off(first + dt.timedelta(days=d)) for d in range((last - first).days + 1))


NO_CLOSED_DAYS = Calendar()


def days_off(calendar: Calendar, first: dt.date, last: dt.date) -> list[DayOff]:
    """Every day off from `first` to `last` (inclusive), in order; a closed day that is also a national
    holiday is listed once per kind (the console shows both)."""
    found: list[DayOff] = []
    closed = dict(calendar.closed)
    for d in range((last - first).days + 1):
        day = first + dt.timedelta(days=d)
        national = national_holiday(day)
        if national is not None:
            found.append(DayOff(day, HOLIDAY, national))
        if day in closed:
            found.append(DayOff(day, CLOSED_DAY, closed[day]))
    return found


def today_jst(now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(JST).date()


# ---- closed days in the database -----------------------------------------------------------------


async def calendar_for(s: AsyncSession, now: dt.datetime, days: int = LOOKAHEAD_DAYS) -> Calendar:
    """The calendar of sessions from `now`: the closed days from yesterday (a session may have started
    before midnight) to `days` ahead."""
    today = today_jst(now)
    rows = await closed_days(s, today - dt.timedelta(days=1), today + dt.timedelta(days=days))
    return Calendar(tuple((dt.date.fromisoformat(day), name) for day, name in rows))


async def closed_days(s: AsyncSession, first: dt.date, last: dt.date) -> list[tuple[str, str]]:
    """(YYYY-MM-DD, name) of the closed days from `first` to `last` (inclusive), in order."""
    rows = await s.execute(
        select(ClosedDay.day, ClosedDay.name)
        .where(ClosedDay.day >= first.isoformat(), ClosedDay.day <= last.isoformat())
        .order_by(ClosedDay.day)
    )
    return [(day, name) for day, name in rows.all()]


async def add_closed_days(s: AsyncSession, first: dt.date, last: dt.date, name: str, actor: str | None) -> list[str]:
    """Add the closed days from `first` to `last` (inclusive) with `name`, in one statement; a day
    already closed keeps its name. Returns the days added (YYYY-MM-DD)."""
    rows = [
        {"day": (first + dt.timedelta(days=d)).isoformat(), "name": name, "created_by": actor, "created_at": utcnow()}
        for d in range((last - first).days + 1)
    ]
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ClosedDay).values(rows).on_conflict_do_nothing(index_elements=["day"])
    added = await s.execute(statement.returning(ClosedDay.day))
    return sorted(day for (day,) in added.all())


async def remove_closed_day(s: AsyncSession, day: dt.date) -> str | None:
    """Remove one closed day, in one statement; returns its name (None: it was not a closed day)."""
    removed = await s.execute(delete(ClosedDay).where(ClosedDay.day == day.isoformat()).returning(ClosedDay.name))
    return removed.scalar_one_or_none()
