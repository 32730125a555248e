"""The rules of one live session (pure, clock injected): what the relay forwards or drops, and when
the session must be warned or ended (idle, maximum length, allowed hours).

The gateway enforces these whatever the browser sends; the agent enforces the message part again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import Enum

from jiseki.protocol import Clipboard, Key, Locks, Pointer, Text, Wheel
from jiseki.protocol.messages import Message

from .policy import Effective, seconds_until_window_end

INPUT_TYPES = (Key, Pointer, Wheel, Text, Locks)  # LOCKS toggles the office PC's lock keys
WARN_BEFORE = 60.0  # seconds of warning before a timed end (less when the limit itself is short)
MINUTE = 60.0  # seconds per policy minute (tests shorten it)


class Verdict(Enum):
    FORWARD = "forward"
    DROP = "drop"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""  # why a message was dropped (audited)
    clipboard: dict[str, object] | None = None  # metadata to audit: direction, bytes, sha256 — never content


@dataclass(frozen=True)
class Warn:
    reason: str  # idle / max_length / hours
    seconds: int


@dataclass(frozen=True)
class End:
    reason: str


FORWARD = Decision(Verdict.FORWARD)


def _clipboard_meta(msg: Clipboard, direction: str) -> tuple[int, dict[str, object]]:
    """The text's size in bytes, and what the audit keeps of it (never the content)."""
    data = msg.text.encode()
    return len(data), {"direction": direction, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


class SessionRules:
    def __init__(self, policy: Effective, started_mono: float, started_wall: dt.datetime) -> None:
        self.policy = policy
        self.started = started_mono
        self.last_input = started_mono
        self._warned: set[str] = set()
        self._deadline_hours: float | None = None
        self._set_hours_deadline(started_mono, started_wall)

    def _set_hours_deadline(self, mono: float, wall: dt.datetime) -> None:
        left = seconds_until_window_end(self.policy, wall)
        self._deadline_hours = None if left is None else mono + left

    def update_policy(self, policy: Effective, mono: float, wall: dt.datetime) -> None:
        """A policy changed while the session runs: new rules apply from now on."""
        if policy != self.policy:
            self.policy = policy
            self._warned.clear()
            self._set_hours_deadline(mono, wall)

    # ---- messages -------------------------------------------------------------------------

    def from_viewer(self, msg: Message, mono: float) -> Decision:
        if isinstance(msg, INPUT_TYPES):
            if self.policy.view_only:
                return Decision(Verdict.DROP, "view_only")
            self.last_input = mono
            return FORWARD
        if isinstance(msg, Clipboard):
            size, meta = _clipboard_meta(msg, "to_host")
            if self.policy.view_only:  # nothing from the terminal reaches the PC, clipboard included
                return Decision(Verdict.DROP, "view_only", meta)
            if not self.policy.clipboard_allowed(to_host=True):
                return Decision(Verdict.DROP, "clipboard_forbidden", meta)
            if size > self.policy.clipboard_max_bytes:
                return Decision(Verdict.DROP, "clipboard_too_large", meta)
            return Decision(Verdict.FORWARD, clipboard=meta)
        return FORWARD

    def from_agent(self, msg: Message) -> Decision:
        if isinstance(msg, Clipboard):
            size, meta = _clipboard_meta(msg, "to_terminal")
            if not self.policy.clipboard_allowed(to_host=False):
                return Decision(Verdict.DROP, "clipboard_forbidden", meta)
            if size > self.policy.clipboard_max_bytes:
                return Decision(Verdict.DROP, "clipboard_too_large", meta)
            return Decision(Verdict.FORWARD, clipboard=meta)
        return FORWARD

    # ---- time -----------------------------------------------------------------------------

    def _deadlines(self) -> list[tuple[str, float, float]]:
        """(reason, deadline, limit length) for each timed rule in force."""
        found = []
        if self.policy.idle_minutes:
            limit = self.policy.idle_minutes * MINUTE
            found.append(("idle", self.last_input + limit, limit))
        if self.policy.max_minutes:
            limit = self.policy.max_minutes * MINUTE
            found.append(("max_length", self.started + limit, limit))
        if self._deadline_hours is not None:
            found.append(("hours", self._deadline_hours, WARN_BEFORE * 5))
        return found

    def tick(self, mono: float) -> Warn | End | None:
        """Call about once a second: the warning or end that is due now, if any."""
        due = sorted(self._deadlines(), key=lambda d: d[1])
        for reason, deadline, _limit in due:
            if mono >= deadline:
                return End(reason)
        for reason, deadline, limit in due:
            lead = min(WARN_BEFORE, limit / 4)
            if mono >= deadline - lead and reason not in self._warned:
                self._warned.add(reason)
                return Warn(reason, max(1, round(deadline - mono)))
            if reason == "idle" and mono < deadline - lead:
                self._warned.discard("idle")  # input came back: warn again next time
        return None
