"""Where an effective policy value came from, and the days and times of the holiday calendar, in the
reader's language.

Policies are named `department:<name>`, `host_group:<name>`, `organisation` (the organisation's
default) or `default` (built in; see `policies_db`); the audit trail keeps those names, pages show
them through the catalogue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from jiseki.i18n import JST, N_
from jiseki.policy_kinds import DAY_LABELS, DAY_NAMES

from ..policy import DEFAULT, ORGANISATION

ORGANISATION_DEFAULT = N_("Organisation default")
_KINDS = {"department": N_("Department {name}"), "host_group": N_("PC group {name}")}


def source_text(_: Callable[..., str], source: str) -> str:
    """One source, or several joined by ", " (allowed hours may come from more than one policy)."""
    return ", ".join(_one(_, part) for part in source.split(", "))


def _one(_: Callable[..., str], part: str) -> str:
    if part == DEFAULT.name:
        return _("Default")
    if part == ORGANISATION:
        return _(ORGANISATION_DEFAULT)
    kind, sep, name = part.partition(":")
    return _(_KINDS[kind], name=name) if sep and kind in _KINDS else part


def weekday_text(_: Callable[..., str], day: dt.date) -> str:
    """The day's short weekday name (月, 火… in Japanese)."""
    return _(DAY_LABELS[DAY_NAMES[day.weekday()]])


def day_text(_: Callable[..., str], day: dt.date) -> str:
    """A date with its weekday: `2027/01/04（月）`."""
    return _("{date} ({weekday})", date=f"{day:%Y/%m/%d}", weekday=weekday_text(_, day))


def day_time_text(_: Callable[..., str], moment: dt.datetime) -> str:
    """A moment in Japan time with its weekday: `2027/01/04（月）08:30`."""
    local = moment.astimezone(JST)
    return _(
        "{date} ({weekday}) {time}",
        date=f"{local:%Y/%m/%d}",
        weekday=weekday_text(_, local.date()),
        time=f"{local:%H:%M}",
    )
