"""One session's life on the node that holds its viewer: the driver of `SessionMachine`.

The machine decides (pairing, rules, suspend and resume, ends); this module does the I/O: it feeds the
machine what the sockets (through `relay`), the clock and the database say, and carries out the actions
it returns — sends, closes, the session's row, audit rows, the recording.

The viewer's and the agent's sockets are *attached* to the session: each comes through a queue on the
`PendingSession` (the first one and any that resumes it) with the event that lets its handler return.
"""

from __future__ import annotations

import asyncio
import logging
import time

from . import audit, recordings_db
from .broker import HostUnavailable, PendingSession, Socket
from .db.models import utcnow
from .drop_audit import DropAudit
from .end_reasons import EndReason
from .hosts import is_assigned
from .policies_db import effective_for
from .policy import combine
from .recording import Recorder
from .relay import relay
from .rules import Decision
from .session_machine import (
    Action,
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
    Side,
    Who,
    message_audit,
)
from .state import GatewayState

log = logging.getLogger(__name__)

AGENT_JOIN_TIMEOUT = 15.0
POLICY_RECHECK = 30.0  # seconds between re-reading the session's policy and assignment
TICK = 1.0  # seconds between two looks at the session's time limits


async def run_session(state: GatewayState, pending: PendingSession, viewer: Socket) -> None:
    await SessionRun(state, pending).run(viewer)


class SessionRun:
    """Feeds one session's machine and carries out its actions. Events may come from several tasks
    (the two relay pumps, the clock, a request that ends the session); the machine takes each at
    once, so no event sees another half-done."""

    def __init__(self, state: GatewayState, pending: PendingSession) -> None:
        self.state, self.pending = state, pending
        who = Who(pending.id, pending.user_id, pending.host_id, pending.terminal_id, pending.viewer_address)
        policy = pending.policy or combine([])
        self.machine = SessionMachine(who, policy, state.config.gateway.resume_grace_seconds)
        self.sockets: dict[Side, Socket] = {}
        self.drops = DropAudit(self._write_drop)
        self.recorder: Recorder | None = None
        self._phase = self.machine.phase  # the phase whose actions have been carried out
        self._changed = asyncio.Event()  # the phase moved on (set once its actions are done)
        self._ended = asyncio.Event()
        self._clock: asyncio.Task[None] | None = None
        self._drop_writer: asyncio.Task[None] | None = None
        self._keyframes: asyncio.Task[None] | None = None

    async def feed(self, actions: list[Action]) -> None:
        """Carry out what the machine asked for, in order; then wake whoever waits for a new phase."""
        closing: list[Close] = []  # consecutive closes run together: one slow peer does not hold the other
        for action in actions:
            if isinstance(action, Close):
                closing.append(action)
                continue
            if closing:
                await self._close(closing)
                closing = []
            await self._execute(action)
        if closing:
            await self._close(closing)
        phase = self.machine.phase
        if phase is not self._phase:
            self._phase = phase
            self._changed.set()
            if phase is Phase.ENDED:
                self._ended.set()
                if self.machine.forced and self.pending.forced_reason is None:
                    self.pending.forced_reason = self.machine.reason  # the authority check need not end it again

    async def force_end(self, reason: str) -> None:
        """`Broker.close_session`: ended from outside."""
        await self.feed(self.machine.force_end(reason))

    # ---- the session ----------------------------------------------------------------------------

    async def run(self, viewer: Socket) -> None:
        pending, machine = self.pending, self.machine
        pending.end_now = self.force_end
        grace = float(self.state.config.gateway.resume_grace_seconds)
        try:
            if pending.forced_reason is not None:  # ended before its viewer came (takeover, logout)
                await self.feed(machine.force_end(pending.forced_reason))
            self._hold(Side.VIEWER, viewer)
            await self.feed(machine.viewer_attached())
            while machine.phase is not Phase.ENDED:
                self._changed.clear()
                if machine.phase is Phase.LIVE:
                    await self._relay()
                elif machine.phase is Phase.SUSPENDED_VIEWER:
                    await self._wait_for(Side.VIEWER, grace)
                else:  # offered, or the agent's link broke
                    await self._wait_for(Side.AGENT, AGENT_JOIN_TIMEOUT if machine.phase is Phase.OFFERED else grace)
        finally:
            if machine.phase is not Phase.ENDED:  # cancelled (the gateway stops) or the driver failed
                await self.feed(machine.stop(EndReason.GATEWAY_SHUTDOWN))
            await self._finish()

    async def _relay(self) -> None:
        viewer, agent = self.sockets[Side.VIEWER][0], self.sockets[Side.AGENT][0]
        if self.recorder is not None and self._keyframes is None:
            self._keyframes = asyncio.create_task(recordings_db.keyframes(agent))
        await relay(viewer, agent, self.machine, self.feed, self._changed)

    async def _wait_for(self, side: Side, wait: float) -> None:
        """Until a socket of `side` attaches, the wait runs out, or something else moves the session on."""
        phase = self.machine.phase
        queue = self.pending.viewers if side is Side.VIEWER else self.pending.agents
        got = await self._next(queue, wait)
        if got is not None:  # taken even if the session has just ended: finish() then closes it
            self._hold(side, got)
            if side is Side.VIEWER:
                await self.feed(self.machine.viewer_attached())
            else:
                await self.feed(self.machine.agent_attached(time.monotonic(), utcnow()))
        elif self.machine.phase is phase:
            await self.feed(self.machine.wait_expired())

    async def _next(self, queue: asyncio.Queue[Socket | None], wait: float) -> Socket | None:
        getter = asyncio.ensure_future(queue.get())
        waker = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((getter, waker), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if not getter.done():
                getter.cancel()
        return getter.result() if getter.done() and not getter.cancelled() else None

    async def _finish(self) -> None:
        """The session has ended: stop its helpers, write what they hold, then the machine's last actions."""
        if self._clock is not None:  # it returns at once (the session ended), unless a rule's end is still sending
            await asyncio.wait((self._clock,), timeout=TICK)
            self._clock.cancel()
        if self._keyframes is not None:
            self._keyframes.cancel()
        if self.recorder is not None:
            try:
                await recordings_db.finish(self.state.db, self.pending, self.recorder)
            except Exception:  # the session must still be ended and recorded
                log.exception("could not save the recording of session %s", self.pending.id)
        if self._drop_writer is not None:
            self.drops.stop()
            try:
                await self._drop_writer  # writes the drops counted since its last row
            except Exception:
                log.exception("could not write the counted drops of session %s", self.pending.id)
        await self.feed(self.machine.finish())
        for queue in (self.pending.viewers, self.pending.agents):  # a socket that came too late
            while not queue.empty():
                late = queue.get_nowait()
                if late is not None:
                    await late[0].close(code=1000, message=(self.machine.reason or "").encode())
                    late[1].set()

    async def _clock_loop(self) -> None:
        """Warn, then end the session at its idle, length or hours limit; re-read its policy now and then."""
        next_check = time.monotonic() + POLICY_RECHECK
        while True:
            try:
                await asyncio.wait_for(self._ended.wait(), TICK)
                return
            except TimeoutError:
                pass
            now = time.monotonic()
            if now >= next_check:
                next_check = now + POLICY_RECHECK
                try:
                    async with self.state.db() as s:
                        assigned = await is_assigned(s, self.pending.user_id, self.pending.host_id)
                        policy = await effective_for(s, self.pending.user_id, self.pending.host_id)
                except Exception:  # a database restart: the limits still hold; read again next time
                    log.exception("could not read the policy of session %s", self.pending.id)
                else:
                    await self.feed(self.machine.policy_changed(policy, assigned, now, utcnow()))
            await self.feed(self.machine.tick(now))

    # ---- actions --------------------------------------------------------------------------------

    async def _execute(self, action: Action) -> None:
        if type(action) is Send:
            held = self.sockets.get(action.to)
            if held is not None and not held[0].closed:
                try:
                    await held[0].send_bytes(action.data)
                except (ConnectionError, RuntimeError):
                    pass  # that side's own reader sees how its link ended
        elif type(action) is Record:
            if self.recorder is not None:
                await self.recorder.add(action.data)
        elif type(action) is Dropped:
            await self.drops.dropped(action.direction, action.decision)  # counted; rows bounded per interval
        elif type(action) is Audit:
            await audit.record(self.state.db, action.kind, action.outcome, **action.fields)
        elif type(action) is Detach:
            self._let_go(action.side)
        elif type(action) is Offer:
            try:
                await self.state.broker.offer(self.pending)
            except HostUnavailable as exc:
                await self.feed(self.machine.offer_failed(exc.reason))
        elif type(action) is MarkLive:
            await self._mark_live()
        elif type(action) is Ended:
            await self.state.broker.end(
                self.pending.id, action.reason, action.to_viewer, action.to_agent, action.updates
            )
        else:
            raise TypeError(f"unknown action {action!r}")

    async def _close(self, closing: list[Close]) -> None:
        async def close(action: Close) -> None:
            held = self.sockets.get(action.side)
            if held is not None and not held[0].closed:
                await held[0].close(code=action.code, message=action.reason.encode())

        await asyncio.gather(*(close(action) for action in closing), return_exceptions=True)

    async def _mark_live(self) -> None:
        pending, machine = self.pending, self.machine
        await self.state.broker.mark_live(pending)
        pending.stats = machine.stats  # the console's list of live sessions shows the byte counters
        pending.rules = machine.rules  # the authority check reads when input last came
        self._clock = asyncio.create_task(self._clock_loop())
        self._drop_writer = asyncio.create_task(self.drops.run())
        if machine.recording:
            self.recorder = recordings_db.start(self.state.config, pending)

    def _hold(self, side: Side, socket: Socket) -> None:
        self.sockets[side] = socket
        if side is Side.VIEWER:
            self.pending.viewer_socket = socket[0]
        else:
            self.pending.agent_ws = socket[0]

    def _let_go(self, side: Side) -> None:
        held = self.sockets.pop(side, None)
        if held is not None:
            held[1].set()
        if side is Side.VIEWER:
            self.pending.viewer_socket = None
        elif self._keyframes is not None:  # a new agent link gets its own
            self._keyframes.cancel()
            self._keyframes = None

    async def _write_drop(self, direction: str, decision: Decision, counts: dict[str, int]) -> None:
        row = message_audit(self.machine.who, direction, decision, counts)
        await audit.record(self.state.db, row.kind, row.outcome, **row.fields)
