"""One session's life as a state machine with no I/O (in the manner of h11's `_state.py` and
websockets' `protocol.py`).

The driver (`session_run`, `relay`) feeds it what happened — a socket attached, a link lost, a message
(already decoded), the clock, the policy as re-read, an end from outside, a wait that ran out — and
carries out the actions it returns, in their order. No asyncio, no sockets, no database: the clock
comes in with the events, so resume, takeover, idle and hours are plain unit tests.

    requested ──viewer──▶ offered ──agent──▶ live ──viewer's link broke──▶ suspended_viewer
        │                    │               │  ▲ ◀──────viewer resumed──────────┘      │
        │                    │               │  └─────agent resumed───┐                 │
        │                    │               └──agent's link broke──▶ suspended_agent    │
        └────────────────────┴───────────────────────┴───────────────────┴──────────────┴──▶ ended

A link that breaks (no close frame, or closed with another code than 1000/1001) suspends the session
for `grace` seconds; a clean close, invalid data, a rule, or an end from outside ends it. Ending from
outside (`force_end`: logout, takeover, an administrator, revocation; and the rules' own ends) tells
the viewer at once; `finish()` then gives what is left: the row's end with the counters, the
`session_end` audit row, closing both sockets.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from jiseki.protocol import Ack, Desktop, Hello, Key, KeyboardLayout, Refresh, Status, StatusCode, Update, encode
from jiseki.protocol.close_codes import CloseCode
from jiseki.protocol.messages import Message

from .end_reasons import EndReason
from .policy import Effective, time_denial
from .rules import Decision, End, SessionRules, Verdict, Warn

CLOSE_FORCED = CloseCode.ENDED  # a viewer whose session was ended from outside (after STATUS SESSION_ENDED)
CLOSE_NORMAL = CloseCode.NORMAL


class Side(Enum):
    VIEWER = "viewer"
    AGENT = "agent"


class Phase(Enum):
    REQUESTED = "requested"  # the ticket exists; no viewer yet
    OFFERED = "offered"  # the viewer came; the agent was told to dial
    LIVE = "live"
    SUSPENDED_VIEWER = "suspended_viewer"  # the viewer's link broke: it may resume within the grace period
    SUSPENDED_AGENT = "suspended_agent"  # the agent's link broke: it may dial again within the grace period
    ENDED = "ended"


_NEXT: dict[Phase, frozenset[Phase]] = {
    Phase.REQUESTED: frozenset({Phase.OFFERED, Phase.ENDED}),
    Phase.OFFERED: frozenset({Phase.LIVE, Phase.ENDED}),
    Phase.LIVE: frozenset({Phase.SUSPENDED_VIEWER, Phase.SUSPENDED_AGENT, Phase.ENDED}),
    Phase.SUSPENDED_VIEWER: frozenset({Phase.LIVE, Phase.ENDED}),
    Phase.SUSPENDED_AGENT: frozenset({Phase.LIVE, Phase.ENDED}),
    Phase.ENDED: frozenset(),
}


class SessionStateError(RuntimeError):
    """The driver fed an event the session cannot take in its phase (a bug in the driver)."""


@dataclass
class RelayStats:
    """Counters (the console's live list, the session's row) and what a suspend and resume need."""

    to_viewer: int = 0
    to_agent: int = 0
    updates: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    held_keys: set[int] = field(default_factory=set)
    last_update_seq: int = 0
    last_ack_seq: int = 0
    last_desktop: bytes | None = None
    last_layout: bytes | None = None  # the office PC's keyboard layout, for a resumed viewer
    last_viewer_hello: bytes | None = None  # the viewer's HELLO (its video codecs), for a rejoining agent


@dataclass(frozen=True)
class Who:
    """Whose session this is: the fields of its audit rows."""

    session: str
    user: str
    host: str
    terminal: str
    address: str | None = None


# ---- actions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes (an encoded message) to one side's socket; nothing when that socket is gone."""

    to: Side
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    side: Side
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Detach:
    """The session is done with this side's socket: its handler may return."""

    side: Side


@dataclass(frozen=True, slots=True)
class Offer:
    """Tell the agent, over its control channel, to dial this node (`offer_failed` if it cannot be)."""


@dataclass(frozen=True, slots=True)
class MarkLive:
    """Both sides are paired: the row becomes live; the clock, the drop audit and the recording start."""


@dataclass(frozen=True, slots=True)
class Audit:
    kind: str
    outcome: str
    fields: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Dropped:
    """A message the rules dropped: counted, written as bounded audit rows (`drop_audit`)."""

    direction: str
    decision: Decision


@dataclass(frozen=True, slots=True)
class Record:
    """A display message as forwarded to the viewer, for the session's recording."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Ended:
    """The session's row ends with this reason and these counters."""

    reason: str
    to_viewer: int = 0
    to_agent: int = 0
    updates: int = 0


Action = Send | Close | Detach | Offer | MarkLive | Audit | Dropped | Record | Ended


def status(code: StatusCode, detail: str = "") -> bytes:
    return encode(Status(code, detail))


def message_audit(who: Who, direction: str, decision: Decision, counts: Mapping[str, int] | None = None) -> Audit:
    """The audit row of a clipboard transfer (metadata only, never content) or of dropped messages."""
    outcome = "denied" if decision.verdict is Verdict.DROP else "ok"
    kind = "clipboard" if decision.clipboard is not None else "message_dropped"
    fields = {
        "actor": who.user,
        "subject": who.host,
        "session": who.session,
        "reason": decision.reason or None,
        "direction": direction,
        **(decision.clipboard or {}),
        **(counts or {}),
    }
    return Audit(kind, outcome, fields)


class SessionMachine:
    """The life of one session. Every event method returns the actions to carry out, in order."""

    def __init__(self, who: Who, policy: Effective, grace: float) -> None:
        self.who = who
        self.policy = policy  # as at the request; the rules take it over when the session goes live
        self.grace = grace  # seconds a broken link may take to come back (0: it never does)
        self.phase = Phase.REQUESTED
        self.stats = RelayStats()
        self.rules: SessionRules | None = None
        self.recording = False
        self.reason: str | None = None  # why it ended
        self.forced = False  # ended from outside or by a rule (the viewer was told at once)
        self._open: set[Side] = set()  # sockets we may still send to
        self._held: set[Side] = set()  # sockets whose handler waits for the session (see Detach)
        self._was_live = False
        self._finished = False

    # ---- helpers ------------------------------------------------------------------------------

    def _go(self, phase: Phase) -> None:
        if phase not in _NEXT[self.phase]:
            raise SessionStateError(f"{self.phase.value} cannot become {phase.value}")
        self.phase = phase

    def _attach(self, side: Side) -> None:
        self._open.add(side)
        self._held.add(side)

    def _detach(self, side: Side) -> Detach:
        self._open.discard(side)
        self._held.discard(side)
        return Detach(side)

    def _audit(self, kind: str, **fields: object) -> Audit:
        return Audit(
            kind, "ok", {"actor": self.who.user, "subject": self.who.host, "session": self.who.session, **fields}
        )

    def _end(self, reason: str) -> list[Action]:
        """Ended by what happened on its links (or could not start): `finish()` tells and closes."""
        self._go(Phase.ENDED)
        self.reason = reason
        return []

    def _end_forced(self, reason: str) -> list[Action]:
        """Ended from outside or by a rule: the viewer learns why at once."""
        self._go(Phase.ENDED)
        self.reason, self.forced = reason, True
        if Side.VIEWER not in self._open:
            return []
        self._open.discard(Side.VIEWER)
        return [Send(Side.VIEWER, status(StatusCode.SESSION_ENDED, reason)), Close(Side.VIEWER, CLOSE_FORCED, reason)]

    # ---- sockets ------------------------------------------------------------------------------

    def viewer_attached(self) -> list[Action]:
        """The viewer's socket: the first one (the ticket) or one that resumes (the resume token)."""
        if self.phase is Phase.REQUESTED:
            self._go(Phase.OFFERED)
            self._attach(Side.VIEWER)
            return [Send(Side.VIEWER, status(StatusCode.WAITING_FOR_HOST)), Offer()]
        if self.phase is Phase.SUSPENDED_VIEWER:
            self._go(Phase.LIVE)
            self._attach(Side.VIEWER)
            stats = self.stats
            out: list[Action] = []
            if stats.last_desktop is not None:  # the layout first: the new page has an empty canvas
                out.append(Send(Side.VIEWER, stats.last_desktop))
            if stats.last_layout is not None:  # and the keyboard layout, for the page's mismatch check
                out.append(Send(Side.VIEWER, stats.last_layout))
            out += [
                Send(Side.VIEWER, status(StatusCode.HOST_CONNECTED)),
                Send(Side.AGENT, encode(Refresh())),  # then a full picture
                self._audit("session_resumed", side="viewer"),
            ]
            return out
        if self.phase is Phase.ENDED:  # it ended before this socket was taken: finish() closes it
            self._attach(Side.VIEWER)
            return []
        raise SessionStateError(f"a viewer cannot attach to a {self.phase.value} session")

    def agent_attached(self, now: float, wall: dt.datetime) -> list[Action]:
        """The agent's data socket: the first one (the offer's ticket) or one that comes back."""
        if self.phase is Phase.OFFERED:
            self._go(Phase.LIVE)
            self._attach(Side.AGENT)
            self._was_live = True
            self.rules = SessionRules(self.policy, now, wall)
            self.recording = self.policy.record
            return [
                MarkLive(),
                self._audit("session_start", address=self.who.address, terminal=self.who.terminal),
                Send(Side.VIEWER, status(StatusCode.HOST_CONNECTED)),
            ]
        if self.phase is Phase.SUSPENDED_AGENT:
            self._go(Phase.LIVE)
            self._attach(Side.AGENT)
            self.stats.held_keys.clear()  # a new agent session starts with no key held
            out: list[Action] = [
                Send(Side.VIEWER, status(StatusCode.HOST_CONNECTED)),
                self._audit("session_resumed", side="agent"),
            ]
            if self.stats.last_viewer_hello is not None:  # the new agent session learns the viewer's codecs
                out.append(Send(Side.AGENT, self.stats.last_viewer_hello))
            return out
        if self.phase is Phase.ENDED:
            self._attach(Side.AGENT)
            return []
        raise SessionStateError(f"an agent cannot attach to a {self.phase.value} session")

    def offer_failed(self, reason: str) -> list[Action]:
        """The agent could not be told (offline, unknown host, no node holds its control channel)."""
        return self._end(reason) if self.phase is Phase.OFFERED else []

    def wait_expired(self) -> list[Action]:
        """The wait for the missing side ran out: the agent's join time, or the grace period."""
        if self.phase is Phase.OFFERED:
            return self._end(EndReason.HOST_TIMEOUT)
        if self.phase is Phase.SUSPENDED_VIEWER:
            return self._end(EndReason.NETWORK)
        if self.phase is Phase.SUSPENDED_AGENT:
            return self._end(EndReason.HOST_DISCONNECTED)
        return []

    def link_lost(self, side: Side, broken: bool) -> list[Action]:
        """A live socket ended: closed cleanly (1000/1001) by its peer, or `broken` (no close frame,
        another close code). A broken link suspends the session when it may come back."""
        if self.phase is not Phase.LIVE:
            return []  # the session had already left "live" (another task's event came first)
        self._open.discard(side)  # nothing more can be sent on that socket
        if side is Side.VIEWER:
            if not broken:
                return self._end(EndReason.VIEWER_CLOSED)
            if not self.grace:
                return self._end(EndReason.NETWORK)
            self._go(Phase.SUSPENDED_VIEWER)
            return [self._detach(Side.VIEWER), *self._release_for_lost_viewer()]
        if not broken or not self.grace:
            return self._end(EndReason.HOST_DISCONNECTED)
        self._go(Phase.SUSPENDED_AGENT)
        return [self._detach(Side.AGENT), Send(Side.VIEWER, status(StatusCode.WAITING_FOR_HOST))]

    def _release_for_lost_viewer(self) -> list[Action]:
        """Nothing may stay pressed on the office PC, and the agent must not keep waiting for
        acknowledgements the lost viewer will never send."""
        stats = self.stats
        out: list[Action] = [Send(Side.AGENT, encode(Key(usage, False))) for usage in sorted(stats.held_keys)]
        stats.held_keys.clear()
        if stats.last_update_seq and stats.last_update_seq != stats.last_ack_seq:
            out.append(Send(Side.AGENT, encode(Ack(stats.last_update_seq, 0))))
            stats.last_ack_seq = stats.last_update_seq
        return out

    def invalid(self, side: Side) -> list[Action]:
        """A side sent something that is not a valid message for its direction."""
        return self._end(EndReason.PROTOCOL_ERROR) if self.phase is Phase.LIVE else []

    # ---- messages -----------------------------------------------------------------------------

    def from_viewer(self, data: bytes, msg: Message, now: float) -> list[Action]:
        if self.phase is not Phase.LIVE:
            return []
        assert self.rules is not None
        decision = self.rules.from_viewer(msg, now)
        stats = self.stats
        if decision.verdict is Verdict.DROP:
            stats.dropped[decision.reason] += 1
            return [Dropped("to_host", decision)]
        stats.to_agent += len(data)
        if isinstance(msg, Key):
            (stats.held_keys.add if msg.down else stats.held_keys.discard)(msg.usage)
        elif isinstance(msg, Ack):
            stats.last_ack_seq = msg.seq
        elif isinstance(msg, Hello):
            stats.last_viewer_hello = data
        if decision.clipboard is not None:
            return [message_audit(self.who, "to_host", decision), Send(Side.AGENT, data)]
        return [Send(Side.AGENT, data)]

    def from_agent(self, data: bytes, msg: Message) -> list[Action]:
        if self.phase is not Phase.LIVE:
            return []
        assert self.rules is not None
        decision = self.rules.from_agent(msg)
        stats = self.stats
        if decision.verdict is Verdict.DROP:
            stats.dropped[decision.reason] += 1
            return [Dropped("to_terminal", decision)]
        stats.to_viewer += len(data)
        if isinstance(msg, Update):
            stats.updates += 1
            stats.last_update_seq = msg.seq
        elif isinstance(msg, Desktop):
            stats.last_desktop = encode(msg)
        elif isinstance(msg, KeyboardLayout):
            stats.last_layout = encode(msg)
        out: list[Action] = [Send(Side.VIEWER, data)]
        if decision.clipboard is not None:
            out.insert(0, message_audit(self.who, "to_terminal", decision))
        if self.recording:
            out.append(Record(data))
        return out

    # ---- time and policy ----------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        """About once a second from going live: the warning or end the rules want now."""
        if self.rules is None or self.phase is Phase.ENDED:
            return []
        due = self.rules.tick(now)
        if isinstance(due, Warn):
            if Side.VIEWER not in self._open:
                return []  # a suspended viewer misses the warning, as it misses the picture
            return [Send(Side.VIEWER, status(StatusCode.WARNING, f"{due.reason}:{due.seconds}"))]
        if isinstance(due, End):
            return self._end_forced(due.reason)
        return []

    def policy_changed(self, policy: Effective, assigned: bool, now: float, wall: dt.datetime) -> list[Action]:
        """The session's policy and assignment as read again now. Unassigned, outside the allowed
        days/hours, or view-only switched either way: the session ends; other changes apply from now."""
        if self.rules is None or self.phase is Phase.ENDED:
            return []
        if not assigned or time_denial(policy, wall) is not None or policy.view_only != self.rules.policy.view_only:
            return self._end_forced(EndReason.POLICY_CHANGE)
        self.rules.update_policy(policy, now, wall)
        return []

    # ---- ends ---------------------------------------------------------------------------------

    def force_end(self, reason: str) -> list[Action]:
        """Ended from outside: logout, account changes, takeover, an administrator, revocation, the
        gateway stopping. The first reason given is the one told and recorded."""
        return [] if self.phase is Phase.ENDED else self._end_forced(reason)

    def stop(self, reason: str) -> list[Action]:
        """The driver cannot go on (its relay failed, the gateway is stopping)."""
        return [] if self.phase is Phase.ENDED else self._end(reason)

    def finish(self) -> list[Action]:
        """Once ended and nothing is relayed any more: the row's end with the counters, the audit
        row of a session that went live, the viewer told why, both sockets closed and let go."""
        if self.phase is not Phase.ENDED:
            raise SessionStateError(f"a {self.phase.value} session cannot finish")
        if self._finished:
            return []
        self._finished = True
        reason = self.reason or EndReason.GATEWAY_SHUTDOWN
        stats = self.stats
        out: list[Action] = [Ended(reason, stats.to_viewer, stats.to_agent, stats.updates)]
        if self._was_live:
            out.append(self._audit("session_end", reason=reason, bytes_to_viewer=stats.to_viewer))
        if Side.VIEWER in self._open:
            out += [
                Send(Side.VIEWER, status(StatusCode.SESSION_ENDED, reason)),
                Close(Side.VIEWER, CLOSE_NORMAL, reason),
            ]
        if Side.AGENT in self._open:
            out.append(Close(Side.AGENT, CLOSE_NORMAL, reason))
        self._open.clear()
        out += [self._detach(side) for side in (Side.VIEWER, Side.AGENT) if side in self._held]
        return out
