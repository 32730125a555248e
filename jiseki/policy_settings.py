"""The one table of session-policy settings, read by the gateway and by the agent.

Each row says what a setting is (name, kind, default; the kinds are in `jiseki.policy_kinds`), how
several policies combine it (the most restrictive value wins, by the row's rule), whether the agent
enforces it again on the office PC, its label in the console (a catalogue msgid) and its
`jiseki policy set` flag. Validation, combination, the agent's subset, the CLI flags, `policy show`,
the console form and the table in `docs/security.md` are derived from it: a new setting is one row
here, its column in `policies`, its field in `Effective` and its enforcement.

Pure (no I/O), and it imports nothing of `jiseki.gateway` or `jiseki.agent`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jiseki.i18n import N_
from jiseki.policy_kinds import (
    ALL_WINDOWS,
    ANY_OFF,
    ANY_ON,
    CLIPBOARD_LABELS,
    DAY_NAMES,
    INTERSECT_DAYS,
    INTERSECT_DIRECTIONS,
    LIMIT,
    REFUSE_WINS,
    SMALLEST,
    Choice,
    Days,
    Kind,
    Number,
    Rule,
    Switch,
    Window,
)
from jiseki.protocol.limits import MAX_CLIPBOARD_BYTES


@dataclass(frozen=True, eq=False)  # one object per row: compared and hashed by identity
class Setting:
    name: str  # the effective value's name (`Effective`, `policy show`, sources, the agent's offer)
    kind: Kind
    default: Any  # as stored; None only where "not set" has a meaning of its own (no window)
    rule: Rule
    agent: bool  # the agent enforces it again on the office PC (it is in the offer)
    label: str  # catalogue msgid (console form, preview)
    flag: str = ""  # `jiseki policy set` flag; by default from the name
    hint: str = ""  # more help for the flag (English, as the CLI is), after the label
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", self.kind.columns(self.name))
        if not self.flag:
            object.__setattr__(self, "flag", "--" + self.name.replace("_", "-"))

    def stored(self, values: Mapping[str, Any]) -> Any:
        return self.kind.stored(self.name, values)

    def check(self, value: Any) -> None:
        self.kind.check(self.name, value)

    @property
    def help(self) -> str:
        """The flag's help: the label (the catalogue's English) and the hint."""
        text = self.label[:1].lower() + self.label[1:]
        return f"{text}; {self.hint}" if self.hint else text

    @property
    def default_effective(self) -> Any:
        return self.kind.effective(self.default)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "clipboard",
        Choice(CLIPBOARD_LABELS),
        "none",
        INTERSECT_DIRECTIONS,
        agent=True,
        label=N_("Clipboard sharing"),
    ),
    Setting(
        "clipboard_max_bytes",
        Number(MAX_CLIPBOARD_BYTES, "bytes"),
        64 * 1024,
        SMALLEST,
        agent=True,
        label=N_("Clipboard size limit (bytes)"),
    ),
    Setting("view_only", Switch(), False, ANY_ON, agent=True, label=N_("View only")),
    Setting(
        "idle_minutes",
        Number(24 * 60, "minutes", zero=N_("No limit")),
        0,
        LIMIT,
        agent=False,
        label=N_("Idle timeout (minutes)"),
        hint="0 = no idle limit",
    ),
    Setting(
        "max_minutes",
        Number(7 * 24 * 60, "minutes", zero=N_("No limit")),
        0,
        LIMIT,
        agent=False,
        label=N_("Maximum session length (minutes)"),
        hint="0 = no maximum",
    ),
    Setting(
        "days",
        Days(),
        ",".join(DAY_NAMES),
        INTERSECT_DAYS,
        agent=False,
        label=N_("Allowed days"),
        hint="e.g. mon,tue,wed,thu,fri",
    ),
    Setting(
        "windows",
        Window(),
        None,
        ALL_WINDOWS,
        agent=False,
        label=N_("Allowed hours (Japan time)"),
        flag="--hours",
        hint="e.g. 08:00-20:00; 'any' removes it",
    ),
    Setting(
        "conflict",
        Choice({"refuse": N_("Refuse it"), "takeover": N_("Take the session over")}),
        "refuse",
        REFUSE_WINS,
        agent=False,
        label=N_("A second login to a PC in use"),
    ),
    Setting("watermark", Switch(), True, ANY_ON, agent=False, label=N_("Watermark")),
    Setting("lock_on_end", Switch(), True, ANY_ON, agent=True, label=N_("Lock the PC when the session ends")),
    Setting("curtain", Switch(), True, ANY_ON, agent=True, label=N_("Blank the office screen and lock its input")),
    Setting("record", Switch(), False, ANY_ON, agent=False, label=N_("Record sessions")),
    Setting(
        "on_holidays",
        Switch(on=N_("Allowed"), off=N_("Not allowed")),
        True,
        ANY_OFF,
        agent=False,
        label=N_("Use on national holidays and closed days"),
        hint="no = sessions refused on Japan's national holidays and the organisation's closed days",
    ),
    Setting(
        "wake",
        Switch(on=N_("Allowed"), off=N_("Not allowed")),
        True,
        ANY_OFF,
        agent=False,
        label=N_("Power on (Wake-on-LAN)"),
        hint="no = staff cannot power on their office PC from the portal (the console still can)",
    ),
    Setting(
        "wake_before_minutes",
        Number(240, "minutes", zero=N_("Never")),
        0,
        SMALLEST,
        agent=False,
        label=N_("Power on before the allowed hours (minutes)"),
        hint="0 = never by schedule; needs allowed hours (--hours)",
    ),
)

BY_NAME = {s.name: s for s in SETTINGS}
COLUMNS = tuple(column for s in SETTINGS for column in s.columns)  # of the `policies` table, in order
AGENT_SETTINGS = tuple(s for s in SETTINGS if s.agent)


def docs_table(label: Callable[[str], str]) -> str:
    """The settings as the Markdown table in `docs/security.md` (a test keeps that one current);
    `label` gives a msgid's text in the console's default language."""
    header = ("setting", "`jiseki policy set`", "values", "default", "several policies: the result is", "agent too")
    lines = ["| " + " | ".join((*header, "console (ja)")) + " |", "|---" * (len(header) + 1) + "|"]
    for s in SETTINGS:
        cells = (
            f"`{s.name}`",
            f"`{s.flag}`",
            s.kind.doc_values(),
            s.kind.doc_value(s.default),
            s.rule.text,
            "yes" if s.agent else "",
            label(s.label),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
