"""The service's side of a remote session: a worker process in the console session serves the offer,
and is started again in the new session when the console moves (the data channel resumes with the
same ticket, so the viewer sees the sign-in screen of the new session instead of a dead picture).

`WorkerSessions.run_offer` is the agent's `OfferRunner` when the Windows service runs it. What to do
comes from `follow.ConsoleFollower`; this module only carries it out, one action at a time on one
task (`_act`), with the worker's pipes read on threads. Session-change notifications arrive on the
Service Control Manager's thread and are handed to the event loop (`notify_session_change`).

While no session runs, a **spare** worker waits in the console session with its interpreter, its
modules and its encoders loaded (a worker reads its offer only once it is ready): an offer goes to
it at once instead of waiting for a new Python process to start and import (2.4 s under Wine,
2.0 s of it imports). It is replaced when the console moves or it dies (a spare that dies within a minute is
not started again for a minute), and killed when the service stops.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from jiseki.protocol import ProtocolError
from jiseki.protocol.control import Offer

from . import link
from .follow import Action, ConsoleFollower, ReportState, StartWorker, Stop, StopWorker

log = logging.getLogger(__name__)

CONSOLE_POLL = 2.0  # seconds between WTSGetActiveConsoleSessionId looks (notifications can be missed)
STOP_WAIT = 10.0  # how long a worker may take to end its session cleanly before it is killed
SPARE_RETRY = 60.0  # a spare that died within this many seconds is not started again for as long


class Worker(Protocol):
    pid: int
    stdin: IO[bytes]
    stdout: IO[bytes]

    def wait(self, timeout: float | None = None) -> int: ...
    def kill(self) -> None: ...
    def close(self) -> None: ...


class ServiceHooks(Protocol):
    """What the supervisor needs of the service around it."""

    def start_worker(self, session: int) -> Worker: ...
    def console_session(self) -> int | None: ...
    def report_capture(self, method: str, note: str) -> None: ...
    def check_state(self) -> None: ...
    def secure_attention(self) -> None: ...
    def lock_console(self) -> None: ...


def alive(worker: Worker) -> bool:
    try:
        worker.wait(0)
    except subprocess.TimeoutExpired:
        return True
    return False


@dataclass
class _Spare:
    worker: Worker
    session: int
    started: float


class _KeepSpare:
    """The actor's own action: have a spare worker in the console session if none runs."""


class _Running:
    """The worker of the current offer, with the tasks that read its output and wait for its end."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.tasks: tuple[asyncio.Task[None], ...] = ()


class WorkerSessions:
    def __init__(self, hooks: ServiceHooks) -> None:
        self.hooks = hooks
        self.follower = ConsoleFollower()
        self._offer: Offer | None = None
        self._over: asyncio.Future[None] | None = None
        self._running: _Running | None = None
        self._spare: _Spare | None = None
        self._spare_after = 0.0  # monotonic time before which no spare is started
        self._queue: asyncio.Queue[Action | _KeepSpare] = asyncio.Queue()
        self._actor: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # known once the first offer runs
        self._changes = 0  # session-change notifications handled: a console look older than one is stale
        self.stopping = False  # the service stops: a cancelled session ends with "ended", not "replaced"

    # ---- entry points ------------------------------------------------------------------------

    def start(self) -> None:
        """The service runs: follow the console from now on (and keep a spare worker ready)."""
        self._ensure_tasks()

    async def run_offer(self, offer: Offer, previous: asyncio.Task[None] | None = None) -> None:
        """Serve `offer` in a worker until the session is over (or this task is cancelled)."""
        self._ensure_tasks()
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        self._offer = offer
        over: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._over = over
        self._submit(self.follower.offered())
        try:
            await over
        except asyncio.CancelledError:
            why = Stop.ENDED if self.stopping else Stop.REPLACED
            self.follower.session_over()
            await self._stop(why)
            raise
        finally:
            self._offer = None

    def notify_session_change(self, event: int, session: int) -> None:
        """From the SCM's thread: a WTS session change (logon, logoff, lock, unlock, console connect)."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._session_changed, event, session)

    def _session_changed(self, event: int, session: int) -> None:
        self._changes += 1
        self._submit(self.follower.session_change(event, session))

    async def shutdown(self) -> None:
        """The service stops: the worker ends its session cleanly (the gateway ends it at once)."""
        self.stopping = True
        self.follower.session_over()
        await self._stop(Stop.ENDED)
        await self._drop_spare()

    # ---- carrying the actions out -----------------------------------------------------------------

    def _ensure_tasks(self) -> None:
        if self._actor is None:
            self._loop = asyncio.get_running_loop()
            self._actor = asyncio.create_task(self._act())
            self._poller = asyncio.create_task(self._poll_console())

    def _submit(self, actions: Sequence[Action | _KeepSpare]) -> None:
        for action in actions:
            self._queue.put_nowait(action)

    async def _poll_console(self) -> None:
        while True:
            changes = self._changes
            try:
                session = await asyncio.to_thread(self.hooks.console_session)
            except OSError as exc:
                log.warning("cannot ask which session has the console: %s", exc)
            else:
                # A notification that came while Windows was asked is newer than the answer: an old
                # console must not take the session back (the next look sees the console as it is).
                fresh = self.follower.console_polled(session) if self._changes == changes else []
                self._submit([*fresh, _KeepSpare()])
            await asyncio.sleep(CONSOLE_POLL)

    async def _act(self) -> None:
        while True:
            action = await self._queue.get()
            try:
                if isinstance(action, StartWorker):
                    await self._start(action.session)
                elif isinstance(action, StopWorker):
                    await self._stop(action.why)
                elif isinstance(action, ReportState):
                    self.hooks.check_state()
                elif isinstance(action, _KeepSpare):
                    await self._keep_spare()
            except Exception:  # one failed action must not stop the service from following the desk
                log.exception("could not carry out %s", action)
                if isinstance(action, StartWorker):
                    self._submit(self.follower.worker_exited(clean=False))

    async def _start(self, session: int) -> None:
        offer = self._offer
        if offer is None or self._running is not None:
            return
        spare, self._spare = self._spare, None
        if spare is not None and spare.session == session and alive(spare.worker):
            worker = spare.worker
            log.info(
                "worker %d (ready since %.0f s) serves the session in session %d",
                worker.pid,
                time.monotonic() - spare.started,
                session,
            )
        else:
            if spare is not None:
                await self._end_spare(spare.worker)
            worker = await asyncio.to_thread(self.hooks.start_worker, session)
            log.info("worker %d started in session %d", worker.pid, session)
        if self._offer is not offer:  # the session ended while the worker was being started
            worker.kill()
            worker.close()
            return
        running = _Running(worker)
        self._running = running
        await asyncio.to_thread(_write, worker.stdin, link.encode(link.StartOffer(offer)))
        running.tasks = (asyncio.create_task(self._read(running)), asyncio.create_task(self._watch(running)))

    async def _keep_spare(self) -> None:
        if self.stopping or self._offer is not None or self._running is not None:
            return  # a session is served (or the service stops): no spare meanwhile
        spare, console = self._spare, self.follower.console
        if spare is not None:
            if spare.session == console and alive(spare.worker):
                return
            if not alive(spare.worker) and time.monotonic() - spare.started < SPARE_RETRY:
                log.warning("the spare worker %d ended by itself: none for %.0f s", spare.worker.pid, SPARE_RETRY)
                self._spare_after = time.monotonic() + SPARE_RETRY
            await self._drop_spare()
        if console is None or time.monotonic() < self._spare_after:
            return
        worker = await asyncio.to_thread(self.hooks.start_worker, console)
        if self.stopping:
            await self._end_spare(worker)
            return
        # An offer that came meanwhile finds it: its StartWorker is behind this action.
        self._spare = _Spare(worker, console, time.monotonic())
        log.info("spare worker %d started in session %d", worker.pid, console)

    async def _drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            await self._end_spare(spare.worker)

    @staticmethod
    async def _end_spare(worker: Worker) -> None:
        """Killed (it holds no session: nothing to end cleanly) and waited for, so that its files are
        free when the service stops for an upgrade or an uninstall."""
        await asyncio.to_thread(_kill_and_reap, worker)

    async def _stop(self, why: Stop) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        worker = running.worker
        if why is Stop.MOVED:
            # Killed, not ended: its data channel breaks without a close, so the gateway keeps the
            # session for the worker about to start in the new session (which resumes it).
            worker.kill()
        else:
            try:
                await asyncio.to_thread(_write, worker.stdin, link.encode(link.StopSession(why.value)))
            except OSError:
                pass  # already gone
            try:
                await asyncio.wait_for(asyncio.shield(running.exited), STOP_WAIT)
            except TimeoutError:
                log.warning("worker %d did not end within %.0f s: killed", worker.pid, STOP_WAIT)
                worker.kill()
        await asyncio.gather(running.exited, return_exceptions=True)

    async def _watch(self, running: _Running) -> None:
        code = await asyncio.to_thread(running.worker.wait)
        running.worker.close()
        running.exited.set_result(code)
        log.info("worker %d ended (exit code %d)", running.worker.pid, code)
        if self._running is not running:
            return  # stopped on purpose: the follower already knows
        self._running = None
        self._submit(self.follower.worker_exited(clean=code == 0))
        if not self.follower.offer and self._over is not None and not self._over.done():
            self._over.set_result(None)  # the session is over (or the worker kept failing)

    async def _read(self, running: _Running) -> None:
        stream = running.worker.stdout
        while True:
            try:
                line = await asyncio.to_thread(stream.readline, link.MAX_LINE + 1)
            except (OSError, ValueError):
                return
            if not line:
                return
            try:
                message = link.parse_from_worker(line)
            except ProtocolError as exc:
                log.warning("worker %d sent a bad line (%s): stopped", running.worker.pid, exc)
                running.worker.kill()
                return
            self._on_message(message)

    def _on_message(self, message: link.FromWorker) -> None:
        if isinstance(message, link.CaptureInfo):
            self.hooks.report_capture(message.method, message.note)
        elif isinstance(message, link.DesktopSwitched):
            log.info("the remote session now shows the %s desktop", message.name)
        elif isinstance(message, link.SecureAttention):
            self.hooks.secure_attention()
        elif isinstance(message, link.LockRequest):
            self.hooks.lock_console()


def _kill_and_reap(worker: Worker) -> None:
    worker.kill()
    try:
        worker.wait(5)
    except subprocess.TimeoutExpired:
        log.warning("worker %d did not end after being killed", worker.pid)
    worker.close()


def _write(stream: IO[bytes], data: bytes) -> None:
    stream.write(data)
    stream.flush()


class SubprocessWorker:
    """A worker as a plain child process (tests on Linux, and `--console` runs): no session switch."""

    def __init__(self, argv: list[str]) -> None:
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self.pid = self._proc.pid
        self.stdin: IO[bytes] = self._proc.stdin
        self.stdout: IO[bytes] = self._proc.stdout

    def wait(self, timeout: float | None = None) -> int:
        return self._proc.wait(timeout)

    def kill(self) -> None:
        self._proc.kill()

    def close(self) -> None:
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass
