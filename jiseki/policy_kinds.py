"""What a policy setting's value can be and how several policies' values combine: the kinds (choice,
number, on/off, days, daily window) with their checks, operator text and display, the combine rules
(the most restrictive value wins), the clipboard modes and the day names. The table of settings that
uses them is `jiseki.policy_settings`.

Pure (no I/O), and it imports nothing of `jiseki.gateway` or `jiseki.agent`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from jiseki.i18n import N_

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_LABELS = {
    "mon": N_("Mon"),
    "tue": N_("Tue"),
    "wed": N_("Wed"),
    "thu": N_("Thu"),
    "fri": N_("Fri"),
    "sat": N_("Sat"),
    "sun": N_("Sun"),
}

# The clipboard directions as bits, the one encoding of the modes: terminal → office PC, and back.
TO_HOST, TO_TERMINAL = 1, 2
_CLIPBOARD = {
    "none": (0, N_("Not shared")),
    "to_host": (TO_HOST, N_("Terminal → office PC only")),
    "to_terminal": (TO_TERMINAL, N_("Office PC → terminal only")),
    "both": (TO_HOST | TO_TERMINAL, N_("Both ways")),
}
CLIPBOARD_BITS = {mode: bits for mode, (bits, _label) in _CLIPBOARD.items()}
CLIPBOARD_LABELS = {mode: label for mode, (_bits, label) in _CLIPBOARD.items()}
CLIPBOARD_MODES = tuple(_CLIPBOARD)


def clipboard_mode(bits: int) -> str:
    """The mode of a set of direction bits."""
    return next(mode for mode, b in CLIPBOARD_BITS.items() if b == bits)


class PolicyError(ValueError):
    """An invalid policy value; the message names the setting."""


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


# ---- kinds: what a value is, how it is typed, checked and shown -----------------------------------


class Kind:
    """How one setting's value is stored (in its columns), checked, read from the operator's text,
    turned into the effective value and shown. `form` names the console control that edits it."""

    form: ClassVar[str]

    def columns(self, name: str) -> tuple[str, ...]:
        return (name,)

    def stored(self, name: str, values: Mapping[str, Any]) -> Any:
        """The setting's stored value among a policy's column values; None when not set."""
        return values.get(name)

    def to_columns(self, name: str, value: Any) -> dict[str, Any]:
        return {name: value}

    def check(self, name: str, value: Any) -> None:
        """Raise PolicyError (naming the setting) unless `value` (not None) may be stored."""

    def accepts(self, value: Any) -> bool:
        """Whether a value received on the wire is valid (the agent falls back to the default if not)."""
        try:
            self.check("", value)
        except PolicyError:
            return False
        return True

    def parse_text(self, flag: str, text: str) -> Any:
        """The operator's text (a `policy set` flag) as the value to store; checked later by `check`."""
        return text

    def cli_options(self) -> dict[str, Any]:
        """Extra `argparse.add_argument` options for the flag."""
        return {}

    def effective(self, value: Any) -> Any:
        """A stored value as the sessions use it."""
        return value

    def show(self, value: Any) -> str:
        """An effective value as `jiseki policy show` prints it."""
        return str(value)

    def doc_values(self) -> str:
        """The values it takes, for the docs' table."""
        raise NotImplementedError

    def doc_value(self, value: Any) -> str:
        """A stored value (the default) for the docs' table."""
        return f"`{value}`"


@dataclass(frozen=True)
class Choice(Kind):
    """One of a few words; `labels` maps each (in the order offered) to its catalogue msgid."""

    labels: Mapping[str, str]
    form: ClassVar[str] = "choice"

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, str) or value not in self.labels:
            raise PolicyError(f"{name}: must be one of {', '.join(self.choices)}")

    def cli_options(self) -> dict[str, Any]:
        return {"choices": self.choices}

    def doc_values(self) -> str:
        return " / ".join(f"`{c}`" for c in self.choices)


@dataclass(frozen=True)
class Number(Kind):
    """A whole number from 0 to `high`; `zero`, if given, is what 0 means (a catalogue msgid, e.g.
    "No limit"), shown instead of the number."""

    high: int
    unit: str
    zero: str = ""
    form: ClassVar[str] = "number"

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= self.high:
            raise PolicyError(f"{name}: must be an integer from 0 to {self.high}")

    def cli_options(self) -> dict[str, Any]:
        return {"type": int}

    def show(self, value: Any) -> str:
        return "none" if self.zero and value == 0 else str(value)

    def doc_values(self) -> str:
        return f"0–{self.high:,} {self.unit}" + (f"; 0 = {self.zero.lower()}" if self.zero else "")

    def doc_value(self, value: Any) -> str:
        return f"0 ({self.zero.lower()})" if self.zero and value == 0 else f"{value:,}"


_YES_NO = {"yes": True, "no": False, "on": True, "off": False, "true": True, "false": False}


@dataclass(frozen=True)
class Switch(Kind):
    """On or off; `on` and `off` are the console's words for the two (catalogue msgids)."""

    on: str = N_("On")
    off: str = N_("Off")
    form: ClassVar[str] = "switch"

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise PolicyError(f"{name}: must be yes or no")

    def parse_text(self, flag: str, text: str) -> Any:
        if text.lower() not in _YES_NO:
            raise PolicyError(f"{flag}: answer yes or no")
        return _YES_NO[text.lower()]

    def cli_options(self) -> dict[str, Any]:
        return {"metavar": "yes|no"}

    def doc_values(self) -> str:
        return "`yes` / `no`"

    def doc_value(self, value: Any) -> str:
        return (self.on if value else self.off).lower()


@dataclass(frozen=True)
class Days(Kind):
    """Days of the week, stored as `mon,tue,...`; effective as weekday numbers (Monday 0)."""

    form: ClassVar[str] = "days"

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, str):
            raise PolicyError(f"{name}: give days such as mon,tue,wed")
        parse_days(value)

    def effective(self, value: Any) -> Any:
        return parse_days(value)

    def show(self, value: Any) -> str:
        return ",".join(DAY_NAMES[d] for d in sorted(value))

    def doc_values(self) -> str:
        return "days `mon`…`sun`, comma-separated"

    def doc_value(self, value: Any) -> str:
        return "every day" if parse_days(value) == frozenset(range(7)) else f"`{value}`"


@dataclass(frozen=True)
class Window(Kind):
    """A daily window in Japan time, stored as two columns (`HH:MM`; end <= start crosses midnight);
    effective as a tuple of (start, end) windows, all of which must hold (empty: any time)."""

    start: str = "start"
    end: str = "end"
    form: ClassVar[str] = "window"

    def columns(self, name: str) -> tuple[str, ...]:
        return (self.start, self.end)

    def stored(self, name: str, values: Mapping[str, Any]) -> Any:
        pair = (values.get(self.start), values.get(self.end))
        return None if pair == (None, None) else pair

    def to_columns(self, name: str, value: Any) -> dict[str, Any]:
        start, end = value if value is not None else (None, None)
        return {self.start: start, self.end: end}

    def check(self, name: str, value: Any) -> None:
        for column, text in zip((self.start, self.end), value, strict=True):
            if text is not None:
                parse_hhmm(column, text)
        if (value[0] is None) != (value[1] is None):
            raise PolicyError(f"{self.start} and {self.end}: give both or neither")

    def parse_text(self, flag: str, text: str) -> Any:
        if text == "any":
            return (None, None)
        start, sep, end = text.partition("-")
        if not sep:
            raise PolicyError(f"{flag}: give a window such as 08:00-20:00, or 'any'")
        return (start.strip(), end.strip())

    def effective(self, value: Any) -> Any:
        if value is None:
            return ()
        return ((parse_hhmm(self.start, value[0]), parse_hhmm(self.end, value[1])),)

    def show(self, value: Any) -> str:
        return " and ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in value) or "any time"

    def doc_values(self) -> str:
        return "`HH:MM-HH:MM` (Japan time; may cross midnight) or `any`"

    def doc_value(self, value: Any) -> str:
        return "any time" if value is None else f"`{value[0]}-{value[1]}`"


# ---- combine rules: the most restrictive value among the policies that set a setting -------------

Setters = list[tuple[Any, str]]  # (effective value, policy name) of each policy that sets it, in order


def _names(setters: Setters) -> str:
    return ", ".join(dict.fromkeys(name for _value, name in setters))


@dataclass(frozen=True)
class Rule:
    text: str  # for the docs' table
    pick: Callable[[Setters], tuple[Any, str]]  # (value, source) from a non-empty list


def _smallest(setters: Setters) -> tuple[Any, str]:
    return min(setters)


def _limit(setters: Setters) -> tuple[Any, str]:
    best = setters[0]
    for value, name in setters[1:]:
        if value != 0 and (best[0] == 0 or value < best[0]):
            best = (value, name)
    return best


def _directions(setters: Setters) -> tuple[Any, str]:
    bits = TO_HOST | TO_TERMINAL
    for value, _name in setters:
        bits &= CLIPBOARD_BITS[value]
    return clipboard_mode(bits), _names(setters)


def _days(setters: Setters) -> tuple[Any, str]:
    days = frozenset(range(7))
    for value, _name in setters:
        days &= value
    return days, _names(setters)


def _windows(setters: Setters) -> tuple[Any, str]:
    return tuple(w for value, _name in setters for w in value), ", ".join(name for _value, name in setters)


def restrictive_wins(value: Any, text: str) -> Rule:
    """`value` if any policy sets it (named by the first that does); else the value they all set."""

    def pick(setters: Setters) -> tuple[Any, str]:
        hits = [name for v, name in setters if v == value]
        return (value, hits[0]) if hits else (setters[0][0], _names(setters))

    return Rule(text, pick)


SMALLEST = Rule("the smallest", _smallest)
LIMIT = Rule("the smallest limit (0, no limit, loses to any)", _limit)
ANY_ON = restrictive_wins(True, "on if any policy turns it on")
ANY_OFF = restrictive_wins(False, "refused if any policy refuses")
REFUSE_WINS = restrictive_wins("refuse", "`refuse` if any policy refuses")
INTERSECT_DIRECTIONS = Rule("only the directions every policy allows", _directions)
INTERSECT_DAYS = Rule("only the days every policy allows", _days)
ALL_WINDOWS = Rule("only the time inside every policy's window", _windows)
