"""Scheduled 電源オン on the real gateway (TLS, client certificates, the database of the run): a PC is
powered on before its staff member's allowed hours, through a relay agent's control channel, once per
start, by one node of two; PCs that are on, unknown on the network or only disabled staff's are not."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from types import SimpleNamespace

import aiohttp
import pytest
from sqlalchemy import update

from jiseki.gateway import wake_schedule
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, Host, User, utcnow
from jiseki.gateway.policies_db import set_host_group, set_policy
from jiseki.gateway.policy import JST
from jiseki.gateway.wake import claim

from .conftest import RunningGateway
from .console_support import add_console_users, database, events, logged_in, text_of
from .test_nodes import Cluster, cluster, ticket_seconds  # noqa: F401 (fixtures)
from .test_wake import PC1, relay_agent, set_network

pytestmark = pytest.mark.database


@pytest.fixture(autouse=True)
def quick_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each node looks five times a second instead of once a minute (set before the gateway starts)."""
    monkeypatch.setattr(wake_schedule, "TICK_SECONDS", 0.2)


def hours_starting_in(minutes: int) -> dict[str, str]:
    """Allowed hours (Japan time) that start `minutes` from now and last two hours."""
    start = (dt.datetime.now(JST) + dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    return {"start": start.strftime("%H:%M"), "end": (start + dt.timedelta(hours=2)).strftime("%H:%M")}


async def until_events(gw: RunningGateway, kind: str, count: int, seconds: float = 15) -> list[AuditEvent]:
    for _ in range(int(seconds * 10)):
        found = await events(gw, kind)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} event within {seconds} s")


async def test_a_pc_is_powered_on_before_the_allowed_hours_once(gateway: RunningGateway) -> None:
    await set_network(gateway, "pc-1", [PC1])
    received: list[dict[str, object]] = []
    async with aiohttp.ClientSession() as http:
        relay = await relay_agent(gateway, http, got=received)  # pc-2 is on, in pc-1's subnet
        async with database(gateway) as s:
            await set_policy(s, "department", "総務課", {**hours_starting_in(10), "wake_before_minutes": 30}, "test")
        (event,) = await until_events(gateway, "host_wake_requested", 1)
        # The claim holds for the whole period (it opened 20 minutes ago), not only the 15 s that stop
        # a double click: made a minute old, the request still counts at five more looks.
        async with database(gateway) as s:
            minute_ago = utcnow() - dt.timedelta(minutes=1)
            await s.execute(update(Host).where(Host.id == "pc-1").values(wake_requested_at=minute_ago))
        await asyncio.sleep(1.0)
        relay.cancel()
    wakes = [m for m in received if m["type"] == "wake"]
    assert len(wakes) == 1 and wakes[0]["macs"] == [PC1["mac"]] and wakes[0]["broadcast"] == PC1["broadcast"], received
    assert len(await events(gateway, "host_wake_requested")) == 1
    details = json.loads(event.details or "{}")
    assert (event.outcome, event.actor, event.subject) == ("ok", None, "pc-1")
    assert (details["trigger"], details["route"], details["relay"]) == ("schedule", "relay", "pc-2")
    async with database(gateway) as s:
        host = await s.get(Host, "pc-1")
        assert host is not None and host.wake_requested_at is not None and host.wake_requested_by is None
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        _status, page, _r = await b.get("/admin/pc/pc-1")
        assert "(定期実行)" in text_of(page)  # the last power-on request, by the schedule
        _status, page, _r = await b.get("/admin/audit?kind=host_wake_requested")
        assert "実行元: 定期実行" in text_of(page) and "同じネットワークの起動中のPCを経由" in page


async def test_only_offline_pcs_known_on_the_network_with_enabled_staff_are_due(gateway: RunningGateway) -> None:
    now = utcnow()
    async with database(gateway) as s:
        assert await wake_schedule.due_hosts(s, now) == []  # no policy uses the schedule
        await set_policy(s, "department", "総務課", {**hours_starting_in(10), "wake_before_minutes": 30}, "test")
        assert await wake_schedule.due_hosts(s, now) == []  # pc-1 never reported its network
    await set_network(gateway, "pc-1", [PC1])
    async with database(gateway) as s:
        (due,) = await wake_schedule.due_hosts(s, now)
        assert due.host_id == "pc-1" and due.opened == due.start - dt.timedelta(minutes=30)
        assert dt.timedelta(minutes=9) <= due.start - now <= dt.timedelta(minutes=11)  # hours chosen a moment later
        await s.execute(update(Host).where(Host.id == "pc-1").values(online=True))
        assert await wake_schedule.due_hosts(s, now) == []  # on already
        await s.execute(update(Host).where(Host.id == "pc-1").values(online=False))
        await s.execute(update(User).where(User.id.in_(("alice", "carol"))).values(disabled=True))
        assert await wake_schedule.due_hosts(s, now) == []  # nobody left to work on it
        await s.execute(update(User).where(User.id == "carol").values(disabled=False))
        assert [d.host_id for d in await wake_schedule.due_hosts(s, now)] == ["pc-1"]
        await set_policy(s, "host_group", "会議室", {"wake_before_minutes": 0}, "test")
        await set_host_group(s, "pc-1", "会議室")
        assert await wake_schedule.due_hosts(s, now) == []  # the PC group switched it off: the smallest wins


async def test_looks_at_the_same_moment_claim_a_pc_once_per_period(gateway: RunningGateway) -> None:
    """Several nodes (each its own engine) claim pc-1 for one period at once: one conditional UPDATE
    lets exactly one send; a later period claims again."""
    engines = [make_engine(gateway.db_url()) for _ in range(4)]
    try:
        nodes = [SimpleNamespace(db=sessionmaker(e)) for e in engines]
        opened = utcnow() - dt.timedelta(minutes=5)
        claimed = await asyncio.gather(*(claim(n, "pc-1", None, opened) for n in nodes for _ in range(3)))  # type: ignore[arg-type]
        assert sorted(claimed) == [False] * 11 + [True]
        assert not await claim(nodes[0], "pc-1", None, opened)  # type: ignore[arg-type]
        assert await claim(nodes[1], "pc-1", None, utcnow())  # type: ignore[arg-type]
    finally:
        for e in engines:
            await e.dispose()


async def test_two_nodes_wake_a_pc_once(cluster: Cluster) -> None:  # noqa: F811
    """Both nodes look five times a second; the relay agent is held by node A."""
    await set_network(cluster.a, "pc-1", [PC1])
    received: list[dict[str, object]] = []
    async with aiohttp.ClientSession() as http:
        relay = await relay_agent(cluster.a, http, got=received)
        async with database(cluster.a) as s:
            await set_policy(s, "department", "総務課", {**hours_starting_in(10), "wake_before_minutes": 30}, "test")
        await until_events(cluster.a, "host_wake_requested", 1)
        await asyncio.sleep(1.0)
        relay.cancel()
    assert len([m for m in received if m["type"] == "wake"]) == 1, received
    assert len(await events(cluster.a, "host_wake_requested")) == 1
