"""電源オン (Wake-on-LAN) of an office PC: direct from this gateway machine when it has an interface
in the PC's subnet, else through an online agent in that subnet (a relay), else refused.

The pure parts (magic packet, route choice) are in `jiseki.wol`. Callers check that the actor may
wake the PC (the console's scope, the portal's assignment and policy) before calling `wake_host`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_
from jiseki.protocol.control import NetInterface, Wake, net_interface
from jiseki.wol import Candidate, choose_route, local_interfaces, send_magic

from . import audit
from .admin.bulk import BulkActor, BulkResult, Refusal
from .broker import HostUnavailable
from .db.models import Host, utcnow
from .state import GatewayState

MAX_RELAY_TRIES = 3
REPEAT_AFTER = dt.timedelta(seconds=15)  # one request per PC in this time (double clicks, several people)
NO_ROUTE = N_("No running PC is on the same network.")
NO_NETWORK = N_("This PC has not reported its network yet (its agent must have run once).")
ALREADY_ON = N_("This PC is already on.")
SENT = N_("The power-on signal was sent.")
FAILED = N_("The power-on signal could not be sent.")
UNKNOWN = N_("No such PC.")
TOO_SOON = N_("A power-on signal was sent to this PC moments ago. Please wait a little.")


@dataclass(frozen=True)
class WakeResult:
    ok: bool
    message: str  # a catalogue msgid
    route: str | None = None  # "direct" or "relay"
    relay: str | None = None  # the relay agent's host id
    sent: int = 0  # magic packets sent


def read_network(text: str | None) -> tuple[NetInterface, ...]:
    """`Host.network` as stored, read again as hostile (it came from an agent)."""
    try:
        raw = json.loads(text) if text else []
    except ValueError:
        return ()
    if not isinstance(raw, list):
        return ()
    return tuple(i for i in (net_interface(item) for item in raw[:16]) if i is not None)


async def _candidates(state: GatewayState, host_id: str) -> list[Candidate]:
    alive = await state.broker.alive_nodes()
    async with state.db() as s:
        rows = (
            await s.execute(
                select(Host.id, Host.host_group_id, Host.network, Host.control_node).where(
                    Host.online.is_(True), Host.network.is_not(None), Host.id != host_id
                )
            )
        ).all()
    here = set(state.broker.agents)
    return [
        Candidate(hid, group, read_network(network))
        for hid, group, network, node in rows
        if hid in here or (node is not None and (node == state.broker.node_id or node in alive))
    ]


async def wake_host(
    state: GatewayState,
    host_id: str,
    actor: str | None,  # None: the schedule (wake_schedule)
    address: str | None,
    *,
    not_since: dt.datetime | None = None,
    gateway_interfaces: Callable[[], Sequence[NetInterface]] = local_interfaces,
    **detail: str,
) -> WakeResult:
    """Send the PC's magic packets by the best route; record who asked (Host.wake_requested_*) and
    an audit event `host_wake_requested` (route, relay, and `detail`) whatever the outcome.

    Refused as TOO_SOON if the PC was asked to wake after `not_since` (default: REPEAT_AFTER ago)."""
    async with state.db() as s:
        host = await s.get(Host, host_id)
    if host is None:
        return WakeResult(False, UNKNOWN)
    if host.online:
        return WakeResult(False, ALREADY_ON)
    target = read_network(host.network)
    if not target:
        result = WakeResult(False, NO_NETWORK)
    elif not await claim(state, host_id, actor, not_since or utcnow() - REPEAT_AFTER):
        return WakeResult(False, TOO_SOON)
    else:
        result = await _send(state, host, target, gateway_interfaces)
    async with state.db.begin() as s:
        audit.add(
            s,
            "host_wake_requested",
            "ok" if result.ok else "error",
            actor=actor,
            subject=host_id,
            address=address,
            route=result.route or "none",
            relay=result.relay,
            sent=result.sent,
            **detail,
        )
    return result


async def claim(state: GatewayState, host_id: str, actor: str | None, not_since: dt.datetime) -> bool:
    """Record the request, unless one was made after `not_since`: one conditional UPDATE, so that of
    requests at the same moment (on any node) exactly one sends."""
    async with state.db.begin() as s:
        claimed = await s.execute(
            update(Host)
            .where(
                Host.id == host_id,
                (Host.wake_requested_at.is_(None)) | (Host.wake_requested_at < not_since),
            )
            .values(wake_requested_at=utcnow(), wake_requested_by=actor)
        )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


async def _send(
    state: GatewayState,
    host: Host,
    target: tuple[NetInterface, ...],
    gateway_interfaces: Callable[[], Sequence[NetInterface]],
) -> WakeResult:
    own = await asyncio.to_thread(gateway_interfaces)
    candidates = await _candidates(state, host.id)
    tried: set[str] = set()
    for _ in range(MAX_RELAY_TRIES):
        route = choose_route(
            target, host.id, host.host_group_id, own, [c for c in candidates if c.host_id not in tried]
        )
        if route is None:
            return WakeResult(False, NO_ROUTE if not tried else FAILED, "relay" if tried else None)
        if route.kind == "direct":
            try:
                sent = await asyncio.to_thread(send_magic, route.macs, route.broadcast)
            except OSError:
                return WakeResult(False, FAILED, "direct")
            return WakeResult(True, SENT, "direct", None, sent)
        assert route.relay is not None
        tried.add(route.relay)
        wake = Wake(secrets.token_hex(16), route.macs, route.broadcast)
        try:
            done = await state.broker.relay_wake(route.relay, wake)
        except HostUnavailable:
            continue
        if done.error is None and done.sent > 0:
            return WakeResult(True, SENT, "relay", route.relay, done.sent)
    return WakeResult(False, FAILED, "relay")


async def wake_many(state: GatewayState, host_ids: Sequence[str], actor: BulkActor) -> BulkResult:
    """The PCs list's bulk 電源オン (the caller selected the rows within the actor's scope): each PC
    as `wake_host` (its own audit event), then the bulk summary event."""
    result = BulkResult()
    for host_id in host_ids:
        one = await wake_host(state, host_id, actor.id, actor.address)
        if one.ok:
            result.changed.append(host_id)
        elif one.message == ALREADY_ON:
            result.unchanged.append(host_id)
        else:
            result.refused.append(Refusal(host_id, one.message, {}))
    async with state.db.begin() as s:
        audit.add(
            s,
            "bulk_action",
            "ok" if not result.refused else "error",
            actor=actor.id,
            address=actor.address,
            action="pcs_wake",
            count=len(result.changed),
            unchanged=len(result.unchanged),
            refused=len(result.refused),
        )
    return result


async def is_online(s: AsyncSession, host_id: str) -> bool:
    """Whether the PC's agent is connected now (the portal's progress after 電源オン polls this)."""
    host = await s.get(Host, host_id)
    return bool(host is not None and host.online)
