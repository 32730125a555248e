"""Run one gateway node: PKI, database, application, HTTPS listener, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from jiseki.config import Config

from .state import open_state
from .web.app import build_app

log = logging.getLogger(__name__)


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    state = await open_state(config)
    await state.broker.end_all_sessions_at_startup()
    state.watcher.callbacks.append(state.broker.close_for_fingerprint)
    watcher = asyncio.create_task(state.watcher.run())
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
        watcher.cancel()
        await runner.cleanup()
        await state.engine.dispose()
