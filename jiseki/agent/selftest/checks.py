"""What a selftest check found, the order the checks run in, and the exit status: pure data, no I/O.

Every text is a catalogue message id with `{placeholders}` (`Note`), rendered in both languages by
`report.py`; the numbers behind it are in `figures` too, for `--json`."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from jiseki.i18n import N_


class Status(enum.Enum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"  # works, but needs attention soon (a certificate close to expiry, slow capture)
    FAIL = "fail"
    SKIP = "skip"  # not run, or not something this platform can do: neither pass nor fail


# Status labels, Japanese and English, as each line starts: [合格 PASS].
STATUS_LABELS: dict[Status, str] = {
    Status.PASS: N_("PASS"),
    Status.WARN: N_("WARN"),
    Status.FAIL: N_("FAIL"),
    Status.SKIP: N_("SKIP"),
}

# The checks in the order they run. The desk checks share the probe window; the gateway needs
# none of them; the lock comes last because it ends the desk session the others draw on.
CHECK_NAMES: dict[str, str] = {
    "capture": N_("Screen capture"),
    "picture": N_("Picture"),
    "input": N_("Keyboard and mouse"),
    "clipboard": N_("Clipboard"),
    "curtain": N_("Privacy curtain"),
    "gateway": N_("Gateway connection"),
    "service": N_("Windows service"),
    "lock": N_("Screen lock"),
}
CHECK_ORDER: tuple[str, ...] = tuple(CHECK_NAMES)


@dataclass(frozen=True)
class Note:
    """One catalogue message and the values of its placeholders."""

    msgid: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    name_key: str  # a CHECK_ORDER key
    status: Status
    detail: Note  # the one-line summary after the check's name
    figures: dict[str, object] = field(default_factory=dict)  # measured values, for --json
    notes: tuple[Note, ...] = ()  # further lines: what failed, what this method cannot report

    @property
    def passed(self) -> bool:
        return self.status in (Status.PASS, Status.WARN)

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL


def skipped(name_key: str, reason: Note) -> CheckResult:
    return CheckResult(name_key, Status.SKIP, reason)


def ordered(results: list[CheckResult]) -> list[CheckResult]:
    return sorted(results, key=lambda r: CHECK_ORDER.index(r.name_key))


def exit_status(results: list[CheckResult]) -> int:
    """0 when no check failed (skips and warnings do not fail), 1 otherwise."""
    return 1 if any(r.failed for r in results) else 0
