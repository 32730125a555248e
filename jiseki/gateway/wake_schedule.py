"""Scheduled 電源オン: the gateway powers each office PC on `wake_before_minutes` (a policy setting)
before its allowed hours start, so that it is up when its staff member begins work from home.

- `wake_start` (pure) says whether a policy's wake period is open at a moment, and for which start.
- `due_hosts` finds the offline PCs whose policy, for any of their assigned staff, is in its wake
  period: the policies are read once per look and combined in memory per (department, PC group).
- `run_once` wakes them through `wake.wake_host` (direct or relay, audited `host_wake_requested`
  with `trigger` "schedule"). Its claim is one conditional UPDATE "not asked since this period
  opened", so each PC is asked once per start, by one node of several, and not at all when someone
  asked already (the portal's or the console's 電源オン).

A PC that is on, that never reported its network, or whose staff are all disabled is left alone.
A wake that fails (no route) is not retried within the period: its audit event says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.protocol.control import NetInterface
from jiseki.wol import local_interfaces

from .db.models import Assignment, Host, PolicyRow, User, utcnow
from .holidays import Calendar, calendar_for
from .policies_db import ORGANISATION_TARGET, to_policy
from .policy import ORGANISATION, Effective, Policy, combine, next_allowed, time_denial
from .state import GatewayState
from .wake import TOO_SOON, WakeResult, read_network, wake_host

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0  # how often a node looks; a wake period is at least a minute long
TRIGGER = "schedule"
# Wakes in flight at once: the morning's burst (every PC at 08:00) must not queue behind relays that
# do not answer (WAKE_ANSWER_SECONDS each, up to MAX_RELAY_TRIES), nor flood the subnets at once.
CONCURRENT_WAKES = 16


def wake_start(eff: Effective, now: dt.datetime) -> dt.datetime | None:
    """The start of allowed time whose wake period holds `now` (the `wake_before_minutes` before it),
    or None: no scheduled wake, no allowed hours (a start at midnight is not a working day's), or
    `now` already allowed (a PC switched off during the hours stays off)."""
    if not eff.wake_before_minutes or not eff.windows or time_denial(eff, now) is None:
        return None
    start = next_allowed(eff, now, horizon_days=1)
    if start is None or start - now > dt.timedelta(minutes=eff.wake_before_minutes):
        return None
    return start


@dataclass(frozen=True)
class Due:
    host_id: str
    start: dt.datetime  # the allowed time the PC is woken for
    opened: dt.datetime  # when its wake period opened: a request since then counts


async def _policies(s: AsyncSession) -> tuple[dict[tuple[str, int], Policy], Policy | None]:
    rows = (await s.execute(select(PolicyRow))).scalars().all()
    by_target = {(row.scope, row.target_id): to_policy(row, f"{row.scope}:{row.target_id}") for row in rows}
    return by_target, by_target.pop((ORGANISATION, ORGANISATION_TARGET), None)


async def due_hosts(s: AsyncSession, now: dt.datetime) -> list[Due]:
    """The offline PCs (with a known network) in a wake period now, earliest start first."""
    by_target, organisation = await _policies(s)
    if not any(p.values.get("wake_before_minutes") for p in (*by_target.values(), organisation) if p is not None):
        return []  # nobody uses the schedule: no look at the PCs
    calendar = await calendar_for(s, now)
    rows = (
        await s.execute(
            select(Host.id, Host.host_group_id, Host.network, User.department_id)
            .join(Assignment, Assignment.host_id == Host.id)
            .join(User, User.id == Assignment.user_id)
            .where(Host.online.is_(False), Host.network.is_not(None), User.disabled.is_(False))
        )
    ).all()
    periods: dict[tuple[int | None, int | None], tuple[dt.datetime, dt.datetime] | None] = {}
    due: dict[str, Due] = {}
    for host_id, group, network, department in rows:
        pair = (department, group)
        if pair not in periods:
            periods[pair] = _period(by_target, organisation, calendar, pair, now)
        period = periods[pair]
        if period is None or not read_network(network):
            continue
        before = due.get(host_id)
        if before is None or period[0] < before.start:
            due[host_id] = Due(host_id, *period)
    return sorted(due.values(), key=lambda d: (d.start, d.host_id))


def _period(
    by_target: dict[tuple[str, int], Policy],
    organisation: Policy | None,
    calendar: Calendar,
    pair: tuple[int | None, int | None],
    now: dt.datetime,
) -> tuple[dt.datetime, dt.datetime] | None:
    """(start, opened) of the wake period open now for a person of `department` on a PC of `group`,
    combined as `policies_db.effective_for` combines them."""
    keys = [("department", pair[0]), ("host_group", pair[1])]
    eff = combine([by_target[k] for k in keys if k in by_target], organisation, calendar)
    start = wake_start(eff, now)
    return None if start is None else (start, start - dt.timedelta(minutes=eff.wake_before_minutes))


async def run_once(
    state: GatewayState,
    now: dt.datetime | None = None,
    *,
    gateway_interfaces: Callable[[], Sequence[NetInterface]] = local_interfaces,
) -> list[tuple[str, WakeResult]]:
    """Wake the PCs due now (each once per period, on any node); what was tried and how it went."""
    now = now or utcnow()
    async with state.db() as s:
        due = await due_hosts(s, now)
    gate = asyncio.Semaphore(CONCURRENT_WAKES)

    async def one(item: Due) -> WakeResult:
        async with gate:
            return await wake_host(
                state,
                item.host_id,
                None,
                None,
                not_since=item.opened,
                gateway_interfaces=gateway_interfaces,
                trigger=TRIGGER,
            )

    results = await asyncio.gather(*(one(item) for item in due))
    # TOO_SOON: asked already in this period (by a person, or by another node)
    return [(item.host_id, r) for item, r in zip(due, results, strict=True) if r.message != TOO_SOON]


async def run_forever(state: GatewayState) -> None:
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            woken = await run_once(state)
        except Exception:
            log.exception("scheduled power-on failed")
            continue
        for host_id, result in woken:
            log.info("scheduled power-on of %s: %s (%s)", host_id, "sent" if result.ok else "not sent", result.route)
