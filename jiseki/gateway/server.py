"""Run one gateway node: PKI, database, application, HTTPS listener, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import socket
from collections.abc import Awaitable

from aiohttp import web

from jiseki.config import Config
from jiseki.protocol import Status, StatusCode, encode

from . import authority, metrics, recordings_db, wake_schedule
from .audit.store import purge_before, run_sealer
from .audit.syslog import Destination, SyslogForwarder
from .db.models import utcnow
from .end_reasons import EndReason
from .state import GatewayState, open_state
from .web.app import build_app

log = logging.getLogger(__name__)

RETENTION_INTERVAL = 6 * 3600.0
TICKET_SWEEP_INTERVAL = 5.0  # unused session requests are ended within ticket_seconds + this
STOP_STEP_SECONDS = 10.0  # the most one step of a stop may take; a stuck step is logged and left


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    state = await open_state(config)
    metrics.set_node(state.nodes.node_id)
    await state.nodes.register()
    await state.broker.signaling.start(state.broker.handle_signal)
    state.watcher.callbacks.append(state.broker.close_for_fingerprint)
    background = [
        asyncio.create_task(state.watcher.run()),
        asyncio.create_task(state.nodes.run()),
        asyncio.create_task(_expire_tickets(state)),
        asyncio.create_task(authority.run(state.broker, config.auth)),
        asyncio.create_task(state.jobs.run_forever()),  # resumes CSV imports a stopped node left
        asyncio.create_task(wake_schedule.run_forever(state)),  # 電源オン before the allowed hours (policy)
        *_audit_tasks(config, state),
    ]
    directory = config.directory
    if directory.enabled and directory.sync_interval_minutes:  # the claim keeps two nodes from doubling a run
        from .directory.sync import run_on_schedule

        node = state.nodes.node_id
        background.append(asyncio.create_task(run_on_schedule(state.db, directory, state.broker, node)))
    if config.mail.enabled:  # alerts by mail: the periodic checks, and a node whose heartbeat stopped
        from .alerts import checks as alert_checks

        background.append(asyncio.create_task(alert_checks.run_forever(state)))
        state.nodes.on_dead = lambda node_id: alert_checks.node_down(state, node_id)
    app = build_app(state)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    gw = config.gateway
    site = web.TCPSite(runner, gw.host, gw.port, ssl_context=state.ca.server_ssl_context(), reuse_address=True)
    await site.start()
    log.info(
        "gateway node %s listening on https://%s:%d (reached at %s)",
        state.nodes.node_id,
        gw.host,
        gw.port,
        state.nodes.url,
    )
    stop = stop or asyncio.Event()
    graceful = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)  # Ctrl+C: stop now

    def terminate() -> None:  # SIGTERM (systemd, a rolling restart): drain first
        graceful.set()
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        await stop.wait()
        await drain(state, gw.drain_seconds if graceful.is_set() else 0)
    finally:
        log.info("gateway stopping")
        for task in background:
            task.cancel()
        state.jobs.cancel_all()
        # The cancelled tasks unwind (a transaction rolls back) before the engine goes away.
        await _bounded("background tasks", asyncio.gather(*background, return_exceptions=True))
        await _bounded("signalling", state.broker.signaling.stop())
        await _bounded("node deregistration", state.nodes.deregister())
        await _bounded("HTTPS listener", runner.cleanup())
        await _bounded("database engine", state.engine.dispose())


async def _bounded(step: str, work: Awaitable[object], seconds: float = STOP_STEP_SECONDS) -> None:
    """One step of a stop with a deadline: a step that overruns is logged with where it waits and left
    behind, so that a stop (systemd's, a rolling restart's) never hangs on one stuck connection."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        log.warning("gateway stop: %s did not finish within %.0f s, waiting at %s", step, seconds, awaiting(task))
        task.cancel()
    elif not task.cancelled() and (error := task.exception()) is not None:
        log.warning("gateway stop: %s failed: %r", step, error)


def awaiting(task: asyncio.Future[object]) -> str:
    """Where a task waits: its chain of awaits, innermost last ("file:line function" each)."""
    places = []
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            places.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " -> ".join(places) or repr(task)


async def drain(state: GatewayState, seconds: float) -> None:
    """Graceful stop: take no new sessions, warn the viewers, let sessions end for a while, then end
    the rest and send the agents to another node (they reconnect through the load balancer)."""
    broker = state.broker
    broker.draining = True
    await state.nodes.set_draining()
    sessions = list(broker.live.values())
    if sessions and seconds > 0:
        log.info("draining %d live session(s) for up to %.0f s", len(sessions), seconds)
        for pending in sessions:
            if pending.viewer_socket is not None and not pending.viewer_socket.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await pending.viewer_socket.send_bytes(
                        encode(Status(StatusCode.WARNING, f"gateway_shutdown:{int(seconds)}"))
                    )
        waits = [asyncio.create_task(p.finished.wait()) for p in sessions]
        await asyncio.wait(waits, timeout=seconds)
        for task in waits:
            task.cancel()
    for pending in list(broker.live.values()) + list(broker.pending.values()):
        await broker.close_session(pending, EndReason.GATEWAY_SHUTDOWN)
    for link in list(broker.agents.values()):
        await link.ws.close(code=1012, message=b"gateway restarting")  # 1012: service restart


def _audit_tasks(config: Config, state: GatewayState) -> list[asyncio.Task[None]]:
    """Seal the audit trail continuously, forward it to syslog, purge it (and recordings) by retention."""
    forwarder = None
    if config.audit.syslog_url:
        forwarder = SyslogForwarder(
            state.db,
            Destination.parse(config.audit.syslog_url),
            socket.gethostname(),
            config.audit.syslog_ca_file or None,
        )

    async def after_seal() -> None:
        if forwarder is not None:
            await forwarder.forward()

    tasks = [asyncio.create_task(run_sealer(state.db, after_seal, state.audit_head))]
    tasks.append(asyncio.create_task(_retention(config, state)))
    return tasks


async def _expire_tickets(state: GatewayState) -> None:
    while True:
        await asyncio.sleep(TICKET_SWEEP_INTERVAL)
        try:
            await state.broker.expire_tickets()
        except Exception:
            log.exception("ending unused session requests failed")


async def _retention(config: Config, state: GatewayState) -> None:
    while True:
        try:
            if config.audit.recording_retention_days:
                cutoff = utcnow() - dt.timedelta(days=config.audit.recording_retention_days)
                gone = await recordings_db.purge_before(state.db, cutoff)
                if gone:
                    log.info("recording retention: %d recording(s) deleted", gone)
            if config.audit.retention_days:
                cutoff = utcnow() - dt.timedelta(days=config.audit.retention_days)
                deleted = await purge_before(state.db, cutoff, "retention", state.audit_head)
                if deleted:
                    log.info("audit retention: %d record(s) older than %s purged", deleted, cutoff.date())
        except Exception:
            log.exception("retention run failed")
        await asyncio.sleep(RETENTION_INTERVAL)
