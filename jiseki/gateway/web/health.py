"""`/healthz` (the process answers), `/readyz` (this node can take traffic) and `/metrics`.

`/healthz` and `/readyz` need no client certificate and are open to every network (load balancers
and service monitors call them); they say nothing but a status and a reason code. `/metrics` is
allowed from `gateway.metrics_networks` only (loopback by default): see docs/security.md."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from .. import metrics as m
from ..db.engine import answers
from ..state import GatewayState

log = logging.getLogger(__name__)
READY_DB_TIMEOUT = 2.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _StateCollector(Collector):
    def __init__(self, state: GatewayState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        node = self.state.nodes.node_id
        broker = self.state.broker
        for name, doc, value in (
            ("jiseki_sessions_live", "Sessions live on this node", len(broker.live)),
            ("jiseki_sessions_pending", "Sessions requested and not yet live on this node", len(broker.pending)),
            ("jiseki_agents_online", "PCs whose agent is connected to this node", len(broker.agents)),
            ("jiseki_draining", "1 while the node drains before stopping", int(broker.draining)),
        ):
            family = GaugeMetricFamily(name, doc, labels=["node"])
            family.add_metric([node], value)
            yield family


def _route(request: web.Request) -> str:
    info = request.match_info
    route = info.route if info is not None else None
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "other"


def metrics_middleware() -> Middleware:
    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                m.LATENCY.labels(m.node(), _route(request)).observe(time.monotonic() - started)
            if status >= 400:
                m.HTTP_ERRORS.labels(m.node(), str(status)).inc()

    return measure


def make_handlers(state: GatewayState) -> tuple[Callable[[web.Request], Awaitable[web.Response]], ...]:
    """`/metrics` and `/readyz` for this node."""
    own = CollectorRegistry(auto_describe=False)
    own.register(_StateCollector(state))

    async def metrics(_request: web.Request) -> web.Response:
        body = generate_latest(m.REGISTRY) + generate_latest(own)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def readyz(_request: web.Request) -> web.Response:
        reason = await not_ready(state)
        if reason:
            return web.json_response({"status": "unavailable", "reason": reason}, status=503)
        return web.json_response({"status": "ready"})

    return metrics, readyz


async def not_ready(state: GatewayState) -> str | None:
    """Why this node should get no new traffic now (None: it is ready)."""
    if state.broker.draining:
        return "draining"
    if not state.ca.root_cert_path.is_file():
        return "ca_missing"
    try:
        async with asyncio.timeout(READY_DB_TIMEOUT):
            await answers(state.db)
    except Exception as exc:  # any failure to answer in time: the database is what is missing
        log.warning("not ready: the database did not answer (%s)", type(exc).__name__, exc_info=True)
        return "database_unreachable"
    return None
