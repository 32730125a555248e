"""The service follows the console session (service/follow.py), driven through the sequences Windows
produces. Each row: an event, and the actions the service must take. Wine cannot produce these
sequences (it has one session and no WTS notifications), so the state machine is tested here."""

from __future__ import annotations

import pytest

from jiseki.agent.service.follow import (
    MAX_RESTARTS,
    WTS_CONSOLE_CONNECT,
    WTS_CONSOLE_DISCONNECT,
    WTS_REMOTE_CONNECT,
    WTS_SESSION_LOCK,
    WTS_SESSION_LOGOFF,
    WTS_SESSION_LOGON,
    WTS_SESSION_UNLOCK,
    Action,
    ConsoleFollower,
    ReportState,
    StartWorker,
    Stop,
    StopWorker,
)

R = ReportState()


def step(f: ConsoleFollower, what: tuple[object, ...]) -> list[Action]:
    kind, *args = what
    if kind == "poll":
        return f.console_polled(args[0])  # type: ignore[arg-type]
    if kind == "offer":
        return f.offered()
    if kind == "exit":
        return f.worker_exited(clean=bool(args[0]))
    if kind == "over":
        return f.session_over()
    return f.session_change(int(kind), int(args[0]))  # type: ignore[call-overload]


SEQUENCES = {
    # Yamada's PC sits locked at the sign-in screen of session 1; she connects from home, unlocks
    # it remotely, works, signs out; the sign-in screen comes up in a new session (2), where her
    # colleague Sato signs in (as at a shared desk).
    "logon, lock, unlock, logoff, other user": [
        (("poll", 1), [R]),
        ((WTS_SESSION_LOCK, 1), [R]),
        (("offer",), [StartWorker(1)]),
        ((WTS_SESSION_UNLOCK, 1), [R]),  # the lock screen is a desktop of the same session: no restart
        ((WTS_SESSION_LOGOFF, 1), [R]),
        ((WTS_CONSOLE_DISCONNECT, 1), [StopWorker(Stop.MOVED), R]),
        ((WTS_CONSOLE_CONNECT, 2), [StartWorker(2), R]),  # the sign-in screen of the new session
        ((WTS_SESSION_LOGON, 2), [R]),
        (("exit", True), [R]),  # the session ends (the gateway closed it)
    ],
    # Fast user switching: session 1 stays signed in, session 2 takes the console, then gives it back.
    "fast user switching and back": [
        (("poll", 1), [R]),
        (("offer",), [StartWorker(1)]),
        ((WTS_CONSOLE_DISCONNECT, 1), [StopWorker(Stop.MOVED), R]),
        ((WTS_CONSOLE_CONNECT, 2), [StartWorker(2), R]),
        ((WTS_SESSION_LOGON, 2), [R]),
        ((WTS_CONSOLE_DISCONNECT, 2), [StopWorker(Stop.MOVED), R]),
        ((WTS_CONSOLE_CONNECT, 1), [StartWorker(1), R]),
    ],
    # The notification was missed (e.g. the service restarted in between): the poll catches it.
    "a missed switch is found by the poll": [
        (("poll", 1), [R]),
        (("offer",), [StartWorker(1)]),
        (("poll", 1), []),
        (("poll", 3), [StopWorker(Stop.MOVED), StartWorker(3), R]),
        ((WTS_CONSOLE_CONNECT, 3), []),  # the late notification changes nothing
    ],
    # An offer while the console is between sessions waits for one.
    "an offer during a switch waits for the new session": [
        (("poll", None), []),
        (("offer",), []),
        (("poll", None), []),
        ((WTS_CONSOLE_CONNECT, 4), [StartWorker(4), R]),
    ],
    # An RDP session is not the desk: nothing moves.
    "remote desktop sessions are ignored": [
        (("poll", 1), [R]),
        (("offer",), [StartWorker(1)]),
        ((WTS_REMOTE_CONNECT, 5), []),
        ((WTS_CONSOLE_DISCONNECT, 5), []),
    ],
    # A newer offer replaces the session; the service stopping ends it.
    "a newer offer replaces, the end stops": [
        (("poll", 1), [R]),
        (("offer",), [StartWorker(1)]),
        (("offer",), [StopWorker(Stop.REPLACED), StartWorker(1)]),
        (("over",), [StopWorker(Stop.ENDED)]),
        (("poll", 2), [R]),  # no offer: no worker
    ],
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_the_service_follows_the_console(name: str) -> None:
    follower = ConsoleFollower()
    for i, (event, expected) in enumerate(SEQUENCES[name]):
        assert step(follower, event) == expected, f"step {i}: {event}"


def test_a_failing_worker_is_restarted_a_few_times_then_the_session_is_given_up() -> None:
    follower = ConsoleFollower()
    follower.console_polled(1)
    assert follower.offered() == [StartWorker(1)]
    for _ in range(MAX_RESTARTS):
        assert follower.worker_exited(clean=False) == [StartWorker(1), R]
    assert follower.worker_exited(clean=False) == [R]
    assert not follower.offer and follower.worker is None
    # A new offer starts afresh.
    assert follower.offered() == [StartWorker(1)]


def test_a_worker_that_dies_with_its_session_starts_again_in_the_next_one() -> None:
    follower = ConsoleFollower()
    follower.console_polled(1)
    follower.offered()
    # Logoff kills the worker before the console notification arrives.
    assert follower.worker_exited(clean=False) == [StartWorker(1), R]  # session 1 still has the console
    assert follower.console_polled(2) == [StopWorker(Stop.MOVED), StartWorker(2), R]
