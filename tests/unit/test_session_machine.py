"""A session's life without a gateway: the machine's exact actions for each event (fake clock)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest

from jiseki.gateway.drop_audit import DropAudit
from jiseki.gateway.end_reasons import EndReason
from jiseki.gateway.policy import JST, Effective, Policy, combine
from jiseki.gateway.rules import Decision, Verdict
from jiseki.gateway.session_machine import (
    Audit,
    Close,
    Detach,
    Dropped,
    Ended,
    MarkLive,
    Offer,
    Phase,
    Record,
    Send,
    SessionMachine,
    SessionStateError,
    Side,
    Who,
    message_audit,
    status,
)
from jiseki.protocol import (
    Ack,
    Clipboard,
    Desktop,
    Hello,
    Key,
    KeyboardLayout,
    LayoutKey,
    Monitor,
    Pointer,
    Refresh,
    StatusCode,
    Update,
    encode,
)
from jiseki.protocol.messages import Message

V, A = Side.VIEWER, Side.AGENT
WHO = Who("s-1", "alice", "pc-1", "term-1", "192.0.2.7")
T0 = 1000.0  # the monotonic clock when the agent came
FRIDAY_10 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=JST)
SHIFT, KEY_A, CTRL = 0x000700E1, 0x00070004, 0x000700E0
DESKTOP = Desktop(320, 200, (Monitor(0, 0, 320, 200),))
LAYOUT = KeyboardLayout("jp106/jp", (LayoutKey(0x2F, ord("@")),))
IDS = {"actor": "alice", "subject": "pc-1", "session": "s-1"}


def live(policy: Effective | None = None, grace: float = 60) -> SessionMachine:
    machine = SessionMachine(WHO, policy or combine([]), grace)
    machine.viewer_attached()
    machine.agent_attached(T0, FRIDAY_10)
    return machine


def from_viewer(machine: SessionMachine, msg: Message, now: float = T0) -> list[object]:
    return list(machine.from_viewer(encode(msg), msg, now))


def from_agent(machine: SessionMachine, msg: Message) -> list[object]:
    return list(machine.from_agent(encode(msg), msg))


def ended(code_reason: str) -> Send:
    return Send(V, status(StatusCode.SESSION_ENDED, code_reason))


# ---- pairing ------------------------------------------------------------------------------------


def test_pairing_offers_then_goes_live_with_its_audit_row() -> None:
    machine = SessionMachine(WHO, combine([]), 60)
    assert machine.phase is Phase.REQUESTED
    assert machine.viewer_attached() == [Send(V, status(StatusCode.WAITING_FOR_HOST)), Offer()]
    assert machine.phase is Phase.OFFERED and machine.rules is None
    assert machine.agent_attached(T0, FRIDAY_10) == [
        MarkLive(),
        Audit("session_start", "ok", {**IDS, "address": "192.0.2.7", "terminal": "term-1"}),
        Send(V, status(StatusCode.HOST_CONNECTED)),
    ]
    assert machine.phase is Phase.LIVE and machine.rules is not None and machine.rules.started == T0


def test_offer_failed_or_no_agent_ends_without_a_session_end_row() -> None:
    machine = SessionMachine(WHO, combine([]), 60)
    machine.viewer_attached()
    assert machine.offer_failed(EndReason.HOST_OFFLINE) == []
    assert machine.finish() == [
        Ended("host_offline"),
        ended("host_offline"),
        Close(V, 1000, "host_offline"),
        Detach(V),
    ]
    waiting = SessionMachine(WHO, combine([]), 60)
    waiting.viewer_attached()
    assert waiting.wait_expired() == []
    assert waiting.reason == EndReason.HOST_TIMEOUT and waiting.finish()[0] == Ended("host_timeout")


def test_an_end_before_the_viewer_came_sends_no_offer() -> None:
    machine = SessionMachine(WHO, combine([]), 60)
    assert machine.force_end(EndReason.TAKEOVER) == []  # nobody to tell yet
    assert machine.viewer_attached() == []
    assert machine.finish() == [Ended("takeover"), ended("takeover"), Close(V, 1000, "takeover"), Detach(V)]


def test_events_the_phase_cannot_take_are_driver_bugs() -> None:
    machine = SessionMachine(WHO, combine([]), 60)
    with pytest.raises(SessionStateError, match="requested"):
        machine.agent_attached(T0, FRIDAY_10)
    with pytest.raises(SessionStateError, match="cannot finish"):
        machine.finish()
    paired = live()
    with pytest.raises(SessionStateError, match="live"):
        paired.viewer_attached()


# ---- relaying -----------------------------------------------------------------------------------


def test_messages_are_forwarded_counted_and_kept_for_a_resume() -> None:
    machine = live()
    update = Update(7, ())
    assert from_agent(machine, update) == [Send(V, encode(update))]
    assert from_viewer(machine, Ack(7, 3)) == [Send(A, encode(Ack(7, 3)))]
    assert from_viewer(machine, Key(SHIFT, True)) == [Send(A, encode(Key(SHIFT, True)))]
    stats = machine.stats
    assert (stats.updates, stats.last_update_seq, stats.last_ack_seq, stats.held_keys) == (1, 7, 7, {SHIFT})
    assert stats.to_viewer == len(encode(update))
    assert stats.to_agent == len(encode(Ack(7, 3))) + len(encode(Key(SHIFT, True)))


def test_a_recorded_session_records_what_the_viewer_is_sent() -> None:
    machine = live(combine([Policy("記録", record=True)]))
    assert machine.recording
    assert from_agent(machine, DESKTOP) == [Send(V, encode(DESKTOP)), Record(encode(DESKTOP))]
    assert from_viewer(machine, Refresh()) == [Send(A, encode(Refresh()))]  # input is not recorded


def test_an_allowed_clipboard_is_audited_before_it_is_forwarded() -> None:
    machine = live(combine([Policy("課", clipboard="both")]))
    text = "hello office"
    meta = {"direction": "to_host", "bytes": 12, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    assert from_viewer(machine, Clipboard(text)) == [
        Audit("clipboard", "ok", {**IDS, "reason": None, **meta}),
        Send(A, encode(Clipboard(text))),
    ]
    out = from_agent(machine, Clipboard("庁内"))
    assert [type(a) for a in out] == [Audit, Send] and out[0].fields["direction"] == "to_terminal"  # type: ignore[attr-defined]


def test_view_only_drops_input_and_the_terminals_clipboard() -> None:
    machine = live(combine([Policy("窓口", view_only=True)]))
    for msg in (Key(KEY_A, True), Pointer(5, 5, 1), Key(KEY_A, False)):
        assert from_viewer(machine, msg) == [Dropped("to_host", Decision(Verdict.DROP, "view_only"))]
    [dropped] = from_viewer(machine, Clipboard("端末の文字"))
    assert isinstance(dropped, Dropped) and dropped.decision.reason == "view_only"
    assert dropped.decision.clipboard is not None and dropped.decision.clipboard["direction"] == "to_host"
    assert from_viewer(machine, Refresh()) == [Send(A, encode(Refresh()))]
    assert machine.stats.dropped == {"view_only": 4} and machine.stats.held_keys == set()
    assert machine.stats.to_agent == len(encode(Refresh()))


async def test_forbidden_clipboard_drops_make_bounded_audit_rows() -> None:
    machine = live()  # default policy: no clipboard either way
    rows: list[Audit] = []

    async def write(direction: str, decision: Decision, counts: dict[str, int]) -> None:
        rows.append(message_audit(WHO, direction, decision, counts))

    drops = DropAudit(write, interval=3600)
    writer = asyncio.create_task(drops.run())
    for i in range(500):
        for action in from_viewer(machine, Clipboard(f"機密{i}")):
            assert isinstance(action, Dropped)  # nothing reaches the office PC
            await drops.dropped(action.direction, action.decision)
    [action] = from_agent(machine, Clipboard("庁内"))
    assert isinstance(action, Dropped)
    await drops.dropped(action.direction, action.decision)
    drops.stop()
    await writer
    first_meta = {"direction": "to_host", "bytes": 7, "sha256": hashlib.sha256("機密0".encode()).hexdigest()}
    assert [(r.kind, r.outcome, dict(r.fields)) for r in rows] == [
        ("clipboard", "denied", {**IDS, "reason": "clipboard_forbidden", **first_meta, "count": 1, "total": 1}),
        (
            "clipboard",
            "denied",
            {
                **IDS,
                "reason": "clipboard_forbidden",
                "direction": "to_terminal",
                "bytes": 6,
                "sha256": hashlib.sha256("庁内".encode()).hexdigest(),
                "count": 1,
                "total": 1,
            },
        ),
        (  # the rest at the end: one row with the count and no message's metadata
            "clipboard",
            "denied",
            {**IDS, "reason": "clipboard_forbidden", "direction": "to_host", "count": 499, "total": 500},
        ),
    ]
    assert machine.stats.dropped == {"clipboard_forbidden": 501}


# ---- links --------------------------------------------------------------------------------------


def test_the_viewer_resumes_within_the_grace_period() -> None:
    machine = live()
    from_agent(machine, DESKTOP)
    from_agent(machine, LAYOUT)
    from_agent(machine, Update(7, ()))
    from_viewer(machine, Ack(6, 2))
    for key in (SHIFT, KEY_A, CTRL):
        from_viewer(machine, Key(key, True))
    from_viewer(machine, Key(KEY_A, False))
    # The drop: let go of the socket, release the keys still held, acknowledge the undrawn update.
    assert machine.link_lost(V, broken=True) == [
        Detach(V),
        Send(A, encode(Key(CTRL, False))),
        Send(A, encode(Key(SHIFT, False))),
        Send(A, encode(Ack(7, 0))),
    ]
    assert machine.phase is Phase.SUSPENDED_VIEWER
    assert from_agent(machine, Update(8, ())) == [] and machine.stats.last_update_seq == 7  # not read meanwhile
    assert machine.tick(T0 + 10) == []
    assert machine.viewer_attached() == [
        Send(V, encode(DESKTOP)),
        Send(V, encode(LAYOUT)),
        Send(V, status(StatusCode.HOST_CONNECTED)),
        Send(A, encode(Refresh())),
        Audit("session_resumed", "ok", {**IDS, "side": "viewer"}),
    ]
    assert machine.phase is Phase.LIVE
    assert machine.link_lost(V, broken=True) == [Detach(V)]  # nothing held, nothing left to acknowledge


def test_after_the_grace_period_a_lost_viewer_ends_the_session_with_network() -> None:
    machine = live()
    from_agent(machine, Update(1, ()))
    machine.link_lost(V, broken=True)
    assert machine.wait_expired() == []
    assert machine.phase is Phase.ENDED and machine.reason == "network" and not machine.forced
    assert machine.finish() == [
        Ended("network", machine.stats.to_viewer, 0, 1),
        Audit("session_end", "ok", {**IDS, "reason": "network", "bytes_to_viewer": machine.stats.to_viewer}),
        Close(A, 1000, "network"),
        Detach(A),
    ]
    assert machine.finish() == []  # once


def test_the_agent_comes_back_within_the_grace_period_or_the_session_ends() -> None:
    machine = live()
    from_viewer(machine, Key(SHIFT, True))
    assert machine.link_lost(A, broken=True) == [Detach(A), Send(V, status(StatusCode.WAITING_FOR_HOST))]
    assert machine.phase is Phase.SUSPENDED_AGENT
    assert from_viewer(machine, Key(KEY_A, True)) == []
    assert machine.agent_attached(T0 + 5, FRIDAY_10) == [
        Send(V, status(StatusCode.HOST_CONNECTED)),
        Audit("session_resumed", "ok", {**IDS, "side": "agent"}),
    ]
    assert machine.stats.held_keys == set()  # the new agent session holds no key
    assert machine.link_lost(A, broken=True)[0] == Detach(A)
    assert machine.wait_expired() == []
    assert machine.reason == EndReason.HOST_DISCONNECTED
    assert machine.finish()[2:] == [ended("host_disconnected"), Close(V, 1000, "host_disconnected"), Detach(V)]


@pytest.mark.parametrize(
    ("side", "broken", "grace", "reason"),
    [
        (V, False, 60, "viewer_closed"),
        (A, False, 60, "host_disconnected"),
        (V, True, 0, "network"),
        (A, True, 0, "host_disconnected"),  # no grace: a broken agent link ends the session at once
    ],
)
def test_a_clean_close_ends_and_a_broken_link_without_grace_too(
    side: Side, broken: bool, grace: float, reason: str
) -> None:
    machine = live(grace=grace)
    assert machine.link_lost(side, broken) == []
    assert machine.phase is Phase.ENDED and machine.reason == reason
    other = A if side is V else V
    closing = [a for a in machine.finish() if isinstance(a, Send | Close)]
    assert closing == ([ended(reason)] if other is V else []) + [Close(other, 1000, reason)]  # not the lost one


def test_invalid_data_ends_with_protocol_error_and_tells_the_viewer() -> None:
    machine = live()
    assert machine.invalid(A) == []
    assert machine.finish()[2:] == [
        ended("protocol_error"),
        Close(V, 1000, "protocol_error"),
        Close(A, 1000, "protocol_error"),
        Detach(V),
        Detach(A),
    ]


# ---- ends from outside --------------------------------------------------------------------------


def test_takeover_tells_the_viewer_at_once_and_the_first_reason_stays() -> None:
    machine = live()
    from_agent(machine, Update(1, ()))
    assert machine.force_end(EndReason.TAKEOVER) == [ended("takeover"), Close(V, 4003, "takeover")]
    assert machine.force_end(EndReason.ADMIN) == []
    assert from_viewer(machine, Key(KEY_A, True)) == [] and machine.link_lost(V, broken=True) == []
    assert machine.finish() == [
        Ended("takeover", machine.stats.to_viewer, 0, 1),
        Audit("session_end", "ok", {**IDS, "reason": "takeover", "bytes_to_viewer": machine.stats.to_viewer}),
        Close(A, 1000, "takeover"),
        Detach(V),
        Detach(A),
    ]


@pytest.mark.parametrize(
    "reason",
    [
        EndReason.LOGGED_OUT,
        EndReason.ACCOUNT_DISABLED,
        EndReason.LOGIN_REQUIRED,
        EndReason.LOGIN_EXPIRED,
        EndReason.PASSWORD_CHANGED,
        EndReason.CERTIFICATE_REVOKED,
    ],
)
def test_logout_and_account_changes_end_the_session_for_good(reason: str) -> None:
    machine = live()
    assert machine.force_end(reason) == [ended(reason), Close(V, 4003, reason)]
    assert machine.forced and machine.finish()[0] == Ended(reason)
    assert reason in EndReason.FINAL  # the viewer shows why instead of reconnecting


def test_an_end_while_a_side_is_away_ends_at_once() -> None:
    viewer_away = live()
    viewer_away.link_lost(V, broken=True)
    assert viewer_away.force_end(EndReason.LOGGED_OUT) == []  # nobody to tell
    assert [type(a) for a in viewer_away.finish()] == [Ended, Audit, Close, Detach]
    agent_away = live()
    agent_away.link_lost(A, broken=True)
    assert agent_away.force_end(EndReason.ADMIN) == [ended("admin"), Close(V, 4003, "admin")]
    assert agent_away.phase is Phase.ENDED  # no waiting for the grace period
    assert agent_away.finish()[2:] == [Detach(V)]


# ---- time and policy ----------------------------------------------------------------------------


def test_idle_warns_once_then_ends_and_input_resets_it() -> None:
    machine = live(combine([Policy("課", idle_minutes=1)]))
    assert machine.tick(T0 + 44) == []
    assert machine.tick(T0 + 45) == [Send(V, status(StatusCode.WARNING, "idle:15"))]
    assert machine.tick(T0 + 46) == []
    from_viewer(machine, Pointer(1, 1, 0), now=T0 + 50)
    assert machine.tick(T0 + 60) == []
    assert machine.tick(T0 + 95) == [Send(V, status(StatusCode.WARNING, "idle:15"))]
    assert machine.tick(T0 + 110) == [ended("idle"), Close(V, 4003, "idle")]
    assert machine.reason == "idle" and machine.forced


def test_a_suspended_viewer_misses_the_warning_but_not_the_end() -> None:
    machine = live(combine([Policy("課", idle_minutes=1)]))
    machine.link_lost(V, broken=True)
    assert machine.tick(T0 + 45) == []
    assert machine.tick(T0 + 60) == [] and machine.reason == "idle"


def test_max_length_ends_even_with_input() -> None:
    machine = live(combine([Policy("課", max_minutes=1)]))
    for t in range(0, 45, 5):
        from_viewer(machine, Pointer(t, 1, 0), now=T0 + t)
    assert machine.tick(T0 + 45) == [Send(V, status(StatusCode.WARNING, "max_length:15"))]
    from_viewer(machine, Pointer(1, 1, 0), now=T0 + 59)
    assert machine.tick(T0 + 60) == [ended("max_length"), Close(V, 4003, "max_length")]


def test_the_allowed_hours_end_the_session() -> None:
    machine = live(combine([Policy("課", start="08:00", end="10:05")]))  # live at 10:00: five minutes left
    assert machine.tick(T0 + 239) == []
    assert machine.tick(T0 + 240) == [Send(V, status(StatusCode.WARNING, "hours:60"))]
    assert machine.tick(T0 + 300) == [ended("hours"), Close(V, 4003, "hours")]


@pytest.mark.parametrize(
    ("policy", "assigned"),
    [
        (combine([Policy("窓口", view_only=True)]), True),  # view-only switched on
        (combine([]), False),  # the PC was unassigned
        (combine([Policy("課", days="sat,sun")]), True),  # not an allowed day any more
    ],
)
def test_a_policy_change_that_the_session_cannot_follow_ends_it(policy: Effective, assigned: bool) -> None:
    machine = live()
    assert machine.policy_changed(policy, assigned, T0 + 30, FRIDAY_10) == [
        ended("policy_change"),
        Close(V, 4003, "policy_change"),
    ]


def test_view_only_switched_off_ends_too_and_other_changes_apply_from_now() -> None:
    viewing = live(combine([Policy("窓口", view_only=True)]))
    assert viewing.policy_changed(combine([]), True, T0 + 30, FRIDAY_10)[0] == ended("policy_change")
    machine = live()
    assert machine.policy_changed(combine([]), True, T0 + 30, FRIDAY_10) == []  # the same policy
    assert machine.policy_changed(combine([Policy("課", idle_minutes=1)]), True, T0 + 30, FRIDAY_10) == []
    assert machine.tick(T0 + 61) == [ended("idle"), Close(V, 4003, "idle")]  # idle since it started


def test_a_rejoining_agent_gets_the_viewers_hello_again() -> None:
    """The viewer's HELLO names the video codecs it decodes; a new agent session must know them too."""
    machine = live()
    hello = Hello(1, 0x03)
    assert from_viewer(machine, hello) == [Send(A, encode(hello))]
    machine.link_lost(A, broken=True)
    assert machine.agent_attached(T0 + 5, FRIDAY_10) == [
        Send(V, status(StatusCode.HOST_CONNECTED)),
        Audit("session_resumed", "ok", {**IDS, "side": "agent"}),
        Send(A, encode(hello)),
    ]
