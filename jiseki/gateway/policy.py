"""Session policies (pure): settings per department and per host group, combined for a (user, PC).

Every applicable policy counts and the **most restrictive value wins** (clipboard directions are
intersected, time limits take the minimum, view-only / lock / curtain / watermark are on if any
policy turns them on, allowed hours are intersected). Each effective value remembers which policy
decided it, so a denial can name its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from jiseki.protocol import MAX_CLIPBOARD_BYTES

JST = ZoneInfo("Asia/Tokyo")

CLIPBOARD_MODES = ("none", "to_host", "to_terminal", "both")
_CLIPBOARD_BITS = {"none": 0, "to_host": 1, "to_terminal": 2, "both": 3}
_BITS_CLIPBOARD = {v: k for k, v in _CLIPBOARD_BITS.items()}
CONFLICT_MODES = ("refuse", "takeover")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PolicyError(ValueError):
    """An invalid policy value; the message names the setting."""


@dataclass(frozen=True)
class Policy:
    """One stored policy. None means "no opinion" (another policy or the default decides)."""

    name: str
    clipboard: str | None = None
    clipboard_max_bytes: int | None = None
    view_only: bool | None = None
    idle_minutes: int | None = None  # 0 = no idle limit
    max_minutes: int | None = None  # 0 = no maximum
    days: str | None = None  # e.g. "mon,tue,wed,thu,fri"
    start: str | None = None  # "08:00" (Japan time)
    end: str | None = None  # "20:00"; end <= start means the window crosses midnight
    conflict: str | None = None
    watermark: bool | None = None
    lock_on_end: bool | None = None
    curtain: bool | None = None
    record: bool | None = None

    def validated(self) -> Policy:
        if self.clipboard is not None and self.clipboard not in CLIPBOARD_MODES:
            raise PolicyError(f"clipboard: must be one of {', '.join(CLIPBOARD_MODES)}")
        if self.conflict is not None and self.conflict not in CONFLICT_MODES:
            raise PolicyError(f"conflict: must be one of {', '.join(CONFLICT_MODES)}")
        for key, hi in (
            ("clipboard_max_bytes", MAX_CLIPBOARD_BYTES),
            ("idle_minutes", 24 * 60),
            ("max_minutes", 7 * 24 * 60),
        ):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi):
                raise PolicyError(f"{key}: must be an integer from 0 to {hi}")
        if self.days is not None:
            parse_days(self.days)
        for key in ("start", "end"):
            value = getattr(self, key)
            if value is not None:
                parse_hhmm(key, value)
        if (self.start is None) != (self.end is None):
            raise PolicyError("start and end: give both or neither")
        return self


DEFAULT = Policy(
    name="default",
    clipboard="none",
    clipboard_max_bytes=64 * 1024,
    view_only=False,
    idle_minutes=0,
    max_minutes=0,
    days=",".join(DAY_NAMES),
    start=None,
    end=None,
    conflict="refuse",
    watermark=True,
    lock_on_end=True,
    curtain=True,
    record=False,
)


def parse_days(text: str) -> frozenset[int]:
    days = set()
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part not in DAY_NAMES:
            raise PolicyError(f"days: {part!r} is not one of {', '.join(DAY_NAMES)}")
        days.add(DAY_NAMES.index(part))
    return frozenset(days)


def parse_hhmm(key: str, text: str) -> dt.time:
    try:
        hour, minute = (int(p) for p in text.split(":"))
        return dt.time(hour, minute)
    except (ValueError, TypeError):
        raise PolicyError(f"{key}: must be a time such as 08:30, got {text!r}") from None


@dataclass(frozen=True)
class Effective:
    """The policy of one session, with the name of the policy that decided each setting."""

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
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def clipboard_allowed(self, to_host: bool) -> bool:
        bit = 1 if to_host else 2
        return bool(_CLIPBOARD_BITS[self.clipboard] & bit)

    @property
    def session_clipboard(self) -> str:
        """The clipboard directions a session really has: view-only lets nothing from the terminal
        reach the office PC, whatever the clipboard setting says."""
        return _BITS_CLIPBOARD[_CLIPBOARD_BITS[self.clipboard] & (2 if self.view_only else 3)]

    def for_agent(self) -> dict[str, Any]:
        """The part the agent enforces again on the office PC."""
        return {
            "clipboard": self.session_clipboard,
            "clipboard_max_bytes": self.clipboard_max_bytes,
            "view_only": self.view_only,
            "lock_on_end": self.lock_on_end,
            "curtain": self.curtain,
        }


def _min_limit(a: int, b: int) -> int:
    """Minimum of two limits where 0 means "none"."""
    if a == 0:
        return b
    if b == 0:
        return a
    return min(a, b)


def _pick(field_name: str, policies: list[Policy]) -> tuple[Any, str] | None:
    """The most restrictive value of one setting among the policies that set it, and who set it."""
    setters = [(getattr(p, field_name), p.name) for p in policies if getattr(p, field_name) is not None]
    if not setters:
        return None
    names = ", ".join(dict.fromkeys(name for _v, name in setters))
    values = [v for v, _n in setters]
    if field_name == "clipboard":
        bits = 3
        for v in values:
            bits &= _CLIPBOARD_BITS[v]
        return _BITS_CLIPBOARD[bits], names
    if field_name == "clipboard_max_bytes":
        return min(setters)
    if field_name in ("view_only", "watermark", "lock_on_end", "curtain", "record"):
        on = [name for v, name in setters if v]
        return (True, on[0]) if on else (False, names)
    if field_name in ("idle_minutes", "max_minutes"):
        best = setters[0]
        for v, name in setters[1:]:
            if _min_limit(best[0], v) != best[0]:
                best = (v, name)
        return best
    if field_name == "days":
        days = frozenset(range(7))
        for v in values:
            days &= parse_days(v)
        return days, names
    if field_name == "conflict":
        refusing = [name for v, name in setters if v == "refuse"]
        return ("refuse", refusing[0]) if refusing else ("takeover", names)
    raise KeyError(field_name)  # pragma: no cover


def combine(policies: list[Policy]) -> Effective:
    """Each setting comes from the policies that set it (most restrictive wins), else from DEFAULT."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in (
        "clipboard",
        "clipboard_max_bytes",
        "view_only",
        "idle_minutes",
        "max_minutes",
        "days",
        "conflict",
        "watermark",
        "lock_on_end",
        "curtain",
        "record",
    ):
        picked = _pick(name, policies)
        if picked is None:
            default = getattr(DEFAULT, name)
            values[name] = parse_days(default) if name == "days" else default
            sources[name] = DEFAULT.name
        else:
            values[name], sources[name] = picked
    windows = tuple(
        (parse_hhmm("start", p.start), parse_hhmm("end", p.end))
        for p in policies
        if p.start is not None and p.end is not None
    )
    sources["windows"] = ", ".join(p.name for p in policies if p.start is not None) or DEFAULT.name
    return Effective(windows=windows, sources=sources, **values)


def _in_window(t: dt.time, window: tuple[dt.time, dt.time]) -> bool:
    start, end = window
    if start < end:
        return start <= t < end
    return t >= start or t < end  # crosses midnight


@dataclass(frozen=True)
class Denial:
    reason: str  # a key: hours, days
    policy: str  # the policy that caused it


def time_denial(eff: Effective, now: dt.datetime) -> Denial | None:
    """Why a session may not run at `now`, or None."""
    local = now.astimezone(JST)
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
        return None
    step = dt.timedelta(minutes=1)
    probe = now.replace(second=0, microsecond=0) + step
    while probe - now < horizon:
        if time_denial(eff, probe) is not None:
            return (probe - now).total_seconds()
        probe += step
    return None


def next_allowed(eff: Effective, now: dt.datetime, horizon_days: int = 8) -> dt.datetime | None:
    """The first moment from `now` at which `time_denial` allows a session (now itself if allowed),
    or None if there is none within the horizon (e.g. no allowed day at all).

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
