"""Run one gateway node: PKI, database, application, HTTPS listener, clean shutdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import socket

from aiohttp import web

from jiseki.config import Config

from . import recordings_db
from .audit.store import purge_before, run_sealer
from .audit.syslog import Destination, SyslogForwarder
from .db.models import utcnow
from .state import GatewayState, open_state
from .web.app import build_app

log = logging.getLogger(__name__)

RETENTION_INTERVAL = 6 * 3600.0


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    state = await open_state(config)
    await state.broker.end_all_sessions_at_startup()
    state.watcher.callbacks.append(state.broker.close_for_fingerprint)
    background = [asyncio.create_task(state.watcher.run()), *_audit_tasks(config, state)]
    app = build_app(state)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    gw = config.gateway
    site = web.TCPSite(runner, gw.host, gw.port, ssl_context=state.ca.server_ssl_context(), reuse_address=True)
    await site.start()
    log.info("gateway listening on https://%s:%d", gw.host, gw.port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("gateway stopping")
        for task in background:
            task.cancel()
        await runner.cleanup()
        await state.engine.dispose()


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

    tasks = [asyncio.create_task(run_sealer(state.db, after_seal))]
    tasks.append(asyncio.create_task(_retention(config, state)))
    return tasks


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
                deleted = await purge_before(state.db, cutoff, "retention")
                if deleted:
                    log.info("audit retention: %d record(s) older than %s purged", deleted, cutoff.date())
        except Exception:
            log.exception("retention run failed")
        await asyncio.sleep(RETENTION_INTERVAL)
