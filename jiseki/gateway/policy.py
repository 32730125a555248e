"""Session policies (pure): settings per department and per host group, combined for a (user, PC),
over the organisation's default (全庁の既定) and the built-in default.

A setting set by the user's department or the PC's group comes from them; else from the
organisation's default if it sets it; else from the built-in DEFAULT. Between department and group
the **most restrictive value wins**, by each setting's rule in
the catalogue (`jiseki.policy_settings`: clipboard directions are intersected, time limits take the
minimum, view-only / lock / curtain / watermark are on if any policy turns them on, allowed hours are
intersected). Each effective value remembers which policy decided it, so a denial can name its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from jiseki.policy_kinds import CLIPBOARD_BITS, TO_HOST, TO_TERMINAL, clipboard_mode
from jiseki.policy_kinds import PolicyError as PolicyError  # re-exported: the gateway's callers take it from here
from jiseki.policy_settings import AGENT_SETTINGS, COLUMNS, SETTINGS

from .holidays import NO_CLOSED_DAYS, Calendar, DayOff

JST = ZoneInfo("Asia/Tokyo")


class Policy:
    """One stored policy: a value for each column it sets (see `jiseki.policy_settings.COLUMNS`); a
    column it leaves out or sets to None has no opinion (another policy or the default decides)."""

    __slots__ = ("name", "values")

    def __init__(self, name: str, **values: Any) -> None:
        unknown = sorted(set(values) - set(COLUMNS))
        if unknown:
            raise PolicyError(f"{unknown[0]}: unknown setting (known: {', '.join(COLUMNS)})")
        self.name = name
        self.values: dict[str, Any] = {k: values[k] for k in COLUMNS if values.get(k) is not None}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and (self.name, self.values) == (other.name, other.values)

    # Mutable and compared by value: unhashable. typeshed declares object.__hash__ a method, so mypy
    # wants an ignore for the way Python itself spells "unhashable".
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, {', '.join(f'{k}={v!r}' for k, v in self.values.items())})"

    def validated(self) -> Policy:
        for setting in SETTINGS:
            value = setting.stored(self.values)
            if value is not None:
                setting.check(value)
        return self


DEFAULT = Policy("default", **{k: v for s in SETTINGS for k, v in s.kind.to_columns(s.name, s.default).items()})
ORGANISATION = "organisation"  # the name (and the `policies.scope`) of the organisation's default


@dataclass(frozen=True)
class Effective:
    """The policy of one session, with the name of the policy that decided each setting.

    One field per row of `jiseki.policy_settings.SETTINGS` (a test checks it), typed for the code
    that enforces them."""

    clipboard: str
    clipboard_max_bytes: int
    view_only: bool
    idle_minutes: int
    max_minutes: int
    days: frozenset[int]
    windows: tuple[tuple[dt.time, dt.time], ...]  # allowed daily windows (Japan time); empty = all day
    conflict: str
    watermark: bool
    lock_on_end: bool
    curtain: bool
    record: bool
    on_holidays: bool
    wake: bool  # staff may power on (Wake-on-LAN) the PC from the portal
    wake_before_minutes: int  # the gateway powers the PC on this long before the allowed hours (0: never)
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    calendar: Calendar = NO_CLOSED_DAYS  # national holidays and the organisation's closed days

    def clipboard_allowed(self, to_host: bool) -> bool:
        return bool(CLIPBOARD_BITS[self.clipboard] & (TO_HOST if to_host else TO_TERMINAL))

    @property
    def session_clipboard(self) -> str:
        """The clipboard directions a session really has: view-only lets nothing from the terminal
        reach the office PC, whatever the clipboard setting says."""
        allowed = TO_TERMINAL if self.view_only else TO_HOST | TO_TERMINAL
        return clipboard_mode(CLIPBOARD_BITS[self.clipboard] & allowed)

    def for_agent(self) -> dict[str, Any]:
        """The part the agent enforces again on the office PC (the rows marked `agent`)."""
        values = {s.name: getattr(self, s.name) for s in AGENT_SETTINGS}
        values["clipboard"] = self.session_clipboard
        return values


def combine(
    policies: list[Policy], organisation: Policy | None = None, calendar: Calendar = NO_CLOSED_DAYS
) -> Effective:
    """Each setting comes from the policies that set it (department, PC group: its rule picks the most
    restrictive value), else from the organisation's default, else from DEFAULT."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        setters = [
            (setting.kind.effective(value), p.name) for p in policies if (value := setting.stored(p.values)) is not None
        ]
        if setters:
            values[setting.name], sources[setting.name] = setting.rule.pick(setters)
        elif organisation is not None and (value := setting.stored(organisation.values)) is not None:
            values[setting.name], sources[setting.name] = setting.kind.effective(value), organisation.name
        else:
            values[setting.name], sources[setting.name] = setting.default_effective, DEFAULT.name
    return Effective(sources=sources, calendar=calendar, **values)


def _in_window(t: dt.time, window: tuple[dt.time, dt.time]) -> bool:
    start, end = window
    if start < end:
        return start <= t < end
    return t >= start or t < end  # crosses midnight


@dataclass(frozen=True)
class Denial:
    reason: str  # a key: hours, days, holiday (national), closed_day (the organisation's)
    policy: str  # the policy that caused it
    day: DayOff | None = None  # the holiday or closed day, for holiday / closed_day


def time_denial(eff: Effective, now: dt.datetime) -> Denial | None:
    """Why a session may not run at `now`, or None."""
    local = now.astimezone(JST)
    if not eff.on_holidays and (off := eff.calendar.day_off(local.date())) is not None:
        return Denial(off.kind, eff.sources["on_holidays"], off)
    if local.weekday() not in eff.days:
        return Denial("days", eff.sources["days"])
    for window in eff.windows:
        if not _in_window(local.time(), window):
            return Denial("hours", eff.sources["windows"])
    return None


def seconds_until_window_end(
    eff: Effective, now: dt.datetime, horizon: dt.timedelta = dt.timedelta(days=8)
) -> float | None:
    """Seconds from `now` until the allowed time ends (None if it never ends within the horizon)."""
    if time_denial(eff, now) is not None:
        return 0.0
    if not eff.windows and len(eff.days) == 7:
        local = now.astimezone(JST).date()
        if eff.on_holidays or not eff.calendar.any_off(local, local + horizon + dt.timedelta(days=1)):
            return None
    step = dt.timedelta(minutes=1)
    probe = now.replace(second=0, microsecond=0) + step
    while probe - now < horizon:
        if time_denial(eff, probe) is not None:
            return (probe - now).total_seconds()
        probe += step
    return None


def next_allowed(eff: Effective, now: dt.datetime, horizon_days: int = 40) -> dt.datetime | None:
    """The first moment from `now` at which `time_denial` allows a session (now itself if allowed),
    or None if there is none within the horizon (e.g. no allowed day at all). The horizon spans a
    week of allowed days past the longest closures (年末年始, a spring holiday week).

    Allowed time starts either at a midnight (a day becomes allowed) or at a window's start, so only
    those moments (Japan time) need looking at."""
    if time_denial(eff, now) is None:
        return now
    local = now.astimezone(JST)
    starts = [dt.time(0, 0), *(start for start, _end in eff.windows)]
    candidates = sorted(
        dt.datetime.combine(local.date() + dt.timedelta(days=d), t, tzinfo=JST)
        for d in range(horizon_days + 1)
        for t in starts
    )
    for moment in candidates:
        if moment > local and time_denial(eff, moment) is None:
            return moment.astimezone(dt.UTC)
    return None
