"""Values as the console shows them in words: sizes with units, lengths in 時間:分, Japan times for
exports, and the facts of an audit event (kinds, outcomes, detail keys and values) in the reader's
language. A code this version has no words for is shown as it is, marked, never hidden."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jiseki.i18n import JST, N_
from jiseki.policy_kinds import DAY_LABELS, DAY_NAMES, Choice
from jiseki.policy_settings import SETTINGS

from ... import reports
from ...auth import second_factor
from ...end_reasons import END_REASON_LABELS
from .labels import (
    ACTIONS,
    DETAIL_KEYS,
    DIRECTIONS,
    FACTORS,
    FORMATS,
    IMPORT_ACTIONS,
    KINDS,
    LOGIN_REASONS,
    LOGIN_RESULTS,
    LOGIN_VIA,
    METHODS,
    OUTCOMES,
    REFUSAL_REASONS,
    REPORT_GROUPS,
    REPORT_PERIODS,
    ROLE_LABELS,
    SIDES,
    STATES,
    TRIGGERS,
    WAKE_ROUTES,
)

Translate = Callable[..., str]

EXPORT_TIME = "%Y/%m/%d %H:%M:%S"  # 2026/12/05 13:14:05, Japan time, in every export


@dataclass(frozen=True)
class Words:
    """Text to show: a catalogue msgid with its values, or (values None) a name or ID shown as it is."""

    text: str
    values: Mapping[str, Any] | None = field(default=None)
    raw_code: bool = False  # a code without words in this version (shown as it is, marked)

    def render(self, _: Translate) -> str:
        if self.values is None:
            return self.text
        return _(self.text, **{k: v.render(_) if isinstance(v, Words) else v for k, v in self.values.items()})


@dataclass(frozen=True)
class Joined(Words):
    """Several words in a row (e.g. days: 月、火、水)."""

    parts: tuple[Words, ...] = ()
    separator: str = "、"

    def render(self, _: Translate) -> str:
        return self.separator.join(p.render(_) for p in self.parts)


def msg(msgid: str, **values: Any) -> Words:
    return Words(msgid, values)


def plain(text: str) -> Words:
    return Words(text)


def code(value: str) -> Words:
    return Words(value, raw_code=True)


DASH = plain("—")


# ---- units ---------------------------------------------------------------------------------------


def size_words(n: int | None) -> Words:
    """65,536バイト, 1.5KB, 12.3MB, 2.0GB (no space between number and unit in Japanese)."""
    if n is None:
        return DASH
    if n < 1024:
        return msg(N_("{value} bytes"), value=f"{n:,}")
    for unit, msgid in ((1024**3, N_("{value} GB")), (1024**2, N_("{value} MB")), (1024, N_("{value} KB"))):
        if n >= unit:
            return msg(msgid, value=f"{n / unit:,.1f}")
    raise AssertionError  # unreachable


def hours_minutes(seconds: float | None) -> str:
    """A length as 時間:分 (1:05 is an hour and five minutes); seconds are rounded to the minute."""
    return "—" if seconds is None else reports.hours_minutes(seconds)


def hours_minutes_seconds(seconds: float) -> str:
    total = int(max(seconds, 0))
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"


def export_time(value: dt.datetime | None) -> str:
    return value.astimezone(JST).strftime(EXPORT_TIME) if value is not None else ""


def end_reason_words(reason: str | None) -> Words:
    if not reason:
        return DASH
    label = END_REASON_LABELS.get(reason)
    return msg(label) if label else msg(N_("Other ({code})"), code=reason)


# ---- audit events --------------------------------------------------------------------------------


def kind_words(kind: str) -> Words:
    return msg(KINDS[kind]) if kind in KINDS else code(kind)


def outcome_words(outcome: str) -> Words:
    return msg(OUTCOMES[outcome]) if outcome in OUTCOMES else code(outcome)


def key_words(key: str) -> Words:
    return msg(DETAIL_KEYS[key]) if key in DETAIL_KEYS else code(key)


_POLICY_LABELS: dict[str, str] = {}
_POLICY_VALUES: dict[str, Mapping[str, str]] = {}
for _setting in SETTINGS:
    for _column in _setting.columns:
        _POLICY_LABELS[_column] = _setting.label
    if isinstance(_setting.kind, Choice):
        _POLICY_VALUES[_setting.name] = _setting.kind.labels
_POLICY_LABELS.update({"start": N_("Allowed hours from"), "end": N_("Allowed hours until")})

_VALUES: dict[str, Mapping[str, str]] = {
    "reason": {**END_REASON_LABELS, **LOGIN_REASONS, **REFUSAL_REASONS},
    "result": LOGIN_RESULTS,
    "via": LOGIN_VIA,
    "factor": FACTORS,
    "second_factor": second_factor.LABELS,
    "direction": DIRECTIONS,
    "side": SIDES,
    "method": METHODS,
    "state": STATES,
    "certificate": STATES,
    "format": FORMATS,
    "period": REPORT_PERIODS,
    "group": REPORT_GROUPS,
    "role": ROLE_LABELS,
    "action": ACTIONS,
    "kind": KINDS,
    "outcome": OUTCOMES,
    "trigger": TRIGGERS,
    "route": WAKE_ROUTES,
    **_POLICY_VALUES,
}
_BY_ACTION = frozenset({"counts", "login_ids"})  # an import's event: a mapping of row actions
_SIZES = frozenset({"bytes", "bytes_to_viewer", "bytes_to_agent", "clipboard_max_bytes"})
_MINUTES = frozenset({"hold_minutes", "idle_minutes", "max_minutes", "wake_before_minutes"})


def field_words(key: str) -> Words:
    """The name of a detail key or of a changed field (a policy column by its setting's label)."""
    if key in DETAIL_KEYS:
        return msg(DETAIL_KEYS[key])
    if key in _POLICY_LABELS:
        return msg(_POLICY_LABELS[key])
    return code(key)


def _time(text: str) -> dt.datetime | None:
    if len(text) < 16 or text[4:5] != "-" or ":" not in text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def value_words(key: str, value: Any) -> Words:
    """One value in words: yes/no, sizes, minutes, Japan times, the words for a code, else as it is."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return msg(N_("Yes") if value else N_("No"))
    if isinstance(value, int) and key in _SIZES:
        return size_words(value)
    if isinstance(value, int) and key in _MINUTES:
        return msg(N_("{value} min"), value=f"{value:,}")
    if isinstance(value, int) and key == "duration_ms":
        return plain(hours_minutes_seconds(value / 1000))
    if isinstance(value, int | float):
        return plain(f"{value:,}")
    if isinstance(value, dict):  # e.g. the filter of a download: each key and value in words
        names = (
            {k: msg(IMPORT_ACTIONS[k]) if k in IMPORT_ACTIONS else code(k) for k in value}
            if key in _BY_ACTION
            else {k: field_words(k) for k in value}
        )
        pairs = (msg(N_("{key}: {value}"), key=names[k], value=value_words(k, v)) for k, v in value.items())
        return Joined("", parts=tuple(pairs), separator=" / ")
    if isinstance(value, list):
        return plain(json.dumps(value, ensure_ascii=False, default=str))
    text = str(value)
    labels = _VALUES.get(key)
    if labels is not None and text in labels:
        return msg(labels[text])
    if key == "days" and text and all(part in DAY_NAMES for part in text.split(",")):
        return Joined("", parts=tuple(msg(DAY_LABELS[d]) for d in text.split(",")))
    when = _time(text)
    if when is not None:
        return plain(when.astimezone(JST).strftime("%Y/%m/%d %H:%M"))
    if labels is not None:  # a code this version has no words for
        return code(text)
    return plain(text)


@dataclass(frozen=True)
class Change:
    field: Words
    before: Words
    after: Words


@dataclass(frozen=True)
class Described:
    """An audit event in words: kind, outcome, its changes (before → after) and its other facts."""

    kind: Words
    outcome: Words
    changes: list[Change]
    facts: list[tuple[Words, Words]]

    def details_text(self, _: Translate) -> str:
        """One line for an export: 'Name: A → B; Reason: …'."""
        parts = [f"{c.field.render(_)}: {c.before.render(_)} → {c.after.render(_)}" for c in self.changes]
        parts += [f"{k.render(_)}: {v.render(_)}" for k, v in self.facts]
        return "; ".join(parts)


def split_details(details: str | None) -> tuple[list[tuple[str, Any, Any]], list[tuple[str, Any]]]:
    """An event's `details` as (field, before, after) changes and the other (key, value) facts, by key;
    an over-long record that was cut, or one not a mapping, is one fact `details`."""
    try:
        facts = json.loads(details) if details else {}
    except ValueError:
        facts = {"details": details}
    if not isinstance(facts, dict):
        facts = {"details": facts}
    before = facts.pop("before", None)
    after = facts.pop("after", None)
    changes: list[tuple[str, Any, Any]] = []
    if isinstance(before, dict) or isinstance(after, dict):
        b = before if isinstance(before, dict) else {}
        a = after if isinstance(after, dict) else {}
        changes = [(k, b.get(k), a.get(k)) for k in dict.fromkeys([*b, *a])]
    return changes, sorted((k, v) for k, v in facts.items() if v not in ("", None))


def describe(kind: str, outcome: str, details: str | None) -> Described:
    changes, facts = split_details(details)
    return Described(
        kind_words(kind),
        outcome_words(outcome),
        [Change(field_words(k), value_words(k, b), value_words(k, a)) for k, b, a in changes],
        [(field_words(k), value_words(k, v)) for k, v in facts],
    )
