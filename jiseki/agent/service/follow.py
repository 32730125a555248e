"""Which console session the worker must run in, as a pure state machine (no Windows calls).

The service (session 0) keeps the control channel; a remote session's capture and input run in a
worker process inside the session attached to the physical console. That session changes: a user
signs in or out (logoff ends the session and the sign-in screen gets a new one), another user takes
the console by fast user switching, Windows restarts the session after an update. Lock and unlock
do not change the session (the worker follows the Winlogon desktop itself: `service/desktop.py`).

`ConsoleFollower` takes what the service learns (WTS session-change notifications, a periodic
`WTSGetActiveConsoleSessionId`, offers, the worker's exits) and answers with what to do: start a
worker in a session (for the current offer), stop the running one, or nothing. The service carries
the actions out (`service/supervisor.py`); the unit tests drive it through the sequences Windows
produces (logon → lock → unlock → logoff → other user) as tables.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# WTS_* event types of SERVICE_CONTROL_SESSIONCHANGE (WM_WTSSESSION_CHANGE).
WTS_CONSOLE_CONNECT = 0x1
WTS_CONSOLE_DISCONNECT = 0x2
WTS_REMOTE_CONNECT = 0x3
WTS_REMOTE_DISCONNECT = 0x4
WTS_SESSION_LOGON = 0x5
WTS_SESSION_LOGOFF = 0x6
WTS_SESSION_LOCK = 0x7
WTS_SESSION_UNLOCK = 0x8
WTS_SESSION_REMOTE_CONTROL = 0x9

MAX_RESTARTS = 3  # a worker that keeps failing in the same session is not restarted forever


class Stop(enum.Enum):
    MOVED = "moved"  # the console moved to another session: end at once, no lock (the session resumes)
    REPLACED = "replaced"  # a newer offer: end cleanly, no lock
    ENDED = "ended"  # the service stops: end cleanly, lock as the policy says


@dataclass(frozen=True)
class StartWorker:
    session: int


@dataclass(frozen=True)
class StopWorker:
    why: Stop


@dataclass(frozen=True)
class ReportState:
    """The desk's user or lock state may have changed: look again and tell the gateway."""


Action = StartWorker | StopWorker | ReportState


class ConsoleFollower:
    def __init__(self) -> None:
        self.console: int | None = None  # the session on the physical console (None: being switched)
        self.worker: int | None = None  # the session the worker runs in (None: no worker)
        self.offer = False  # an offer is being served (a worker should run)
        self.failures = 0  # worker failures in a row for this offer

    # What the service learns -----------------------------------------------------------------

    def session_change(self, event: int, session: int) -> list[Action]:
        """A SERVICE_CONTROL_SESSIONCHANGE notification."""
        if event == WTS_CONSOLE_CONNECT:
            return [] if session == self.console else [*self._console_is(session), ReportState()]
        if event == WTS_CONSOLE_DISCONNECT and session == self.console:
            return [*self._console_is(None), ReportState()]
        if event in (WTS_SESSION_LOGON, WTS_SESSION_LOGOFF, WTS_SESSION_LOCK, WTS_SESSION_UNLOCK):
            return [ReportState()]
        return []  # remote sessions (RDP) are not the desk

    def console_polled(self, session: int | None) -> list[Action]:
        """WTSGetActiveConsoleSessionId, asked every few seconds: notifications can be missed (the
        service started after them, or Windows coalesced them)."""
        if session == self.console:
            return []
        return [*self._console_is(session), ReportState()]

    def offered(self) -> list[Action]:
        """A new offer: a running worker ends first (replaced), then one starts for the offer."""
        actions: list[Action] = [StopWorker(Stop.REPLACED)] if self.worker is not None else []
        self.worker = None
        self.offer = True
        self.failures = 0
        return actions + self._start_if_possible()

    def worker_exited(self, clean: bool) -> list[Action]:
        """The worker ended by itself: clean means the session is over (the gateway ended it or it
        could not be resumed); otherwise it failed (or its session was torn down under it)."""
        self.worker = None
        if clean or not self.offer:
            self.offer = False
            self.failures = 0
            return [ReportState()]
        self.failures += 1
        if self.failures > MAX_RESTARTS:
            self.offer = False
            return [ReportState()]
        return [*self._start_if_possible(), ReportState()]

    def session_over(self) -> list[Action]:
        """The service stops (or the control channel says the session has ended)."""
        actions: list[Action] = [StopWorker(Stop.ENDED)] if self.worker is not None else []
        self.worker = None
        self.offer = False
        return actions

    # ------------------------------------------------------------------------------------------

    def _console_is(self, session: int | None) -> list[Action]:
        if session == self.console:
            return []
        self.console = session
        actions: list[Action] = []
        if self.worker is not None and self.worker != session:
            # The desk is now another session: the worker there shows nothing the user sees.
            actions.append(StopWorker(Stop.MOVED))
            self.worker = None
        return actions + self._start_if_possible()

    def _start_if_possible(self) -> list[Action]:
        if not self.offer or self.worker is not None or self.console is None:
            return []
        self.worker = self.console
        return [StartWorker(self.console)]
