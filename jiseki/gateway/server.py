"""Run one gateway node: PKI, database, application, HTTPS listener, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from jiseki.config import GatewayConfig

from .broker import Broker
from .db.engine import make_engine, sessionmaker, upgrade_to_head
from .pki import CertificateAuthority
from .web.app import build_app

log = logging.getLogger(__name__)


@dataclass
class GatewayState:
    ca: CertificateAuthority
    engine: AsyncEngine
    broker: Broker


async def open_state(config: GatewayConfig) -> GatewayState:
    """CA (created on first start), server certificate and a migrated database."""
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = CertificateAuthority(config.data_dir / "pki")
    ca.ensure_server_cert(config.server_names)
    engine = make_engine(config.effective_database_url)
    await upgrade_to_head(engine)
    return GatewayState(ca, engine, Broker(sessionmaker(engine)))


async def serve(config: GatewayConfig, stop: asyncio.Event | None = None) -> None:
    if not config.access_token:
        raise SystemExit("gateway.access_token (or JISEKI_ACCESS_TOKEN) must be set")
    state = await open_state(config)
    await state.broker.end_all_sessions_at_startup()
    app = build_app(state.broker, config.access_token)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=state.ca.server_ssl_context(), reuse_address=True)
    await site.start()
    log.info("gateway listening on https://%s:%d", config.host, config.port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("gateway stopping")
        await runner.cleanup()
        await state.engine.dispose()
