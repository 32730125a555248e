"""Prometheus metrics of a gateway node (`GET /metrics`, allowed from `gateway.metrics_networks`
only, loopback by default; served by `web/health.py`).

No personal data: labels are the node id, outcomes, directions, status codes and route patterns
(`/admin/pcs/{host_id}`, never the path with its values); never a login ID or an address.

Counters live in one registry per process (one node per process in production); the gauges
(sessions live, agents online, draining) are read from the node's state when scraped."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_node = ""

LOGINS = Counter("jiseki_logins", "Sign-in attempts by outcome", ["node", "outcome"], registry=REGISTRY)
RELAY_BYTES = Counter(
    "jiseki_relay_bytes", "Bytes relayed, by the side that sent them", ["node", "side"], registry=REGISTRY
)
HTTP_ERRORS = Counter("jiseki_http_errors", "Answers with status 400 or more", ["node", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "jiseki_http_request_duration_seconds",
    "Time to answer HTTP requests (WebSocket sessions excluded)",
    ["node", "route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DIRECTORY_SYNCS = Counter(
    "jiseki_directory_sync_runs", "Directory synchronisations", ["node", "outcome"], registry=REGISTRY
)

# Audit events counted (the audit trail sees every sign-in and synchronisation, whoever handled it).
_COUNTED = {"login": LOGINS, "directory_synced": DIRECTORY_SYNCS}
_OUTCOMES = frozenset({"ok", "denied", "failed", "error", "locked"})


def set_node(node_id: str) -> None:
    global _node
    _node = node_id


def audited(kind: str, outcome: str) -> None:
    """Called for every audit event: counts the kinds above (an unknown outcome counts as "other")."""
    counter = _COUNTED.get(kind)
    if counter is not None:
        counter.labels(_node, outcome if outcome in _OUTCOMES else "other").inc()


def relay_counter(side: str) -> Callable[[int], None]:
    """The `inc` of the relay's byte counter for one side, to call per message."""
    return RELAY_BYTES.labels(_node, side).inc


def node() -> str:
    return _node
