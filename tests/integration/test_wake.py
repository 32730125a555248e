"""電源オン over the real gateway (TLS, client certificates), without network namespaces: the portal's
button, JSON endpoints and policy; the console's scope; a relay agent's control channel (an agent
socket that answers `wake` by hand: the namespaces test runs the real agent)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from sqlalchemy import update

from jiseki.gateway.admin import department_id
from jiseki.gateway.db.models import Host, User
from jiseki.gateway.policies_db import set_policy
from jiseki.gateway.scope import set_scope

from .conftest import Browser, RunningGateway
from .console_support import add_console_user, add_console_users, console_csrf, database, events, logged_in, post
from .test_nodes import Cluster, cluster, ticket_seconds  # noqa: F401 (fixtures)

pytestmark = pytest.mark.database

PC1 = {"mac": "52:54:00:00:00:11", "address": "10.55.1.11", "prefix": 24, "broadcast": "10.55.1.255"}
RELAY = {"mac": "52:54:00:00:00:22", "address": "10.55.1.22", "prefix": 24}


async def set_network(gw: RunningGateway, host_id: str, network: list[dict[str, object]]) -> None:
    async with database(gw) as s:
        await s.execute(update(Host).where(Host.id == host_id).values(network=json.dumps(network)))


async def portal(b: Browser, method: str, host_id: str) -> tuple[int, dict[str, object]]:
    headers = {"Origin": b.gw.url, "X-CSRF-Token": await b.csrf()}
    async with b.http.request(method, f"{b.gw.url}/pcs/{host_id}/wake", ssl=b.ssl, headers=headers) as r:
        return r.status, await r.json()


async def relay_agent(
    gw: RunningGateway, http: aiohttp.ClientSession, answer: bool = True, got: list[dict[str, object]] | None = None
) -> asyncio.Task[list[dict[str, object]]]:
    """pc-2's control channel, in the same subnet as pc-1; answers each wake (sent 2) if `answer`;
    what it receives goes to `got` as it arrives."""
    got = [] if got is None else got
    ws = await http.ws_connect(gw.url + "/agent/control", ssl=gw.agent_ssl("pc-2"))
    await ws.send_str(json.dumps({"type": "hello", "hostname": "relay", "network": [RELAY]}))

    async def serve() -> list[dict[str, object]]:
        async for msg in ws:
            wake = json.loads(msg.data)
            got.append(wake)
            if answer and wake["type"] == "wake":
                await ws.send_str(json.dumps({"type": "wake_done", "id": wake["id"], "sent": 2}))
        return got

    task = asyncio.create_task(serve())
    for _ in range(50):
        async with database(gw) as s:
            host = await s.get(Host, "pc-2")
            if host is not None and host.online and host.network:
                return task
        await asyncio.sleep(0.1)
    raise AssertionError("the relay agent did not come online")


async def test_the_portal_wakes_ones_own_pc_through_a_relay_and_reports_progress(gateway: RunningGateway) -> None:
    await set_network(gateway, "pc-1", [PC1])
    async with aiohttp.ClientSession() as http, Browser(gateway, gateway.terminal_ssl()) as b:
        relay = await relay_agent(gateway, http)
        async with database(gateway) as s:
            relay_host = await s.get(Host, "pc-2")
            assert relay_host is not None and relay_host.network is not None
            stored = json.loads(relay_host.network)
        assert stored == [{**RELAY, "broadcast": "10.55.1.255"}]  # as reported, read strictly
        assert (await b.login(gateway.staff["alice"]))[0] == 303
        _status, page, _r = await b.get("/")
        assert 'data-wake="/pcs/pc-1/wake"' in page and "電源オン" in page
        assert (await portal(b, "GET", "pc-1")) == (200, {"online": False})
        status, body = await portal(b, "POST", "pc-1")
        assert (status, body["ok"], body["route"]) == (202, True, "relay"), body
        status, body = await portal(b, "POST", "pc-2")  # bob's PC: to alice, as if it did not exist
        assert (status, body["reason"]) == (404, "unknown_host")
        relay.cancel()
    (event,) = await events(gateway, "host_wake_requested")
    details = json.loads(event.details or "{}")
    assert (event.actor, event.subject, details["route"], details["relay"]) == ("alice", "pc-1", "relay", "pc-2")


async def test_a_relay_that_does_not_answer_is_a_clear_failure(gateway: RunningGateway) -> None:
    await set_network(gateway, "pc-1", [PC1])
    await add_console_users(gateway)
    async with aiohttp.ClientSession() as http:
        relay = await relay_agent(gateway, http, answer=False)
        async with await logged_in(gateway, "hd") as b:
            status, body, _location = await post(b, "/admin/pcs/pc-1/wake", {})
        relay.cancel()
    assert status == 409 and "電源オンの信号を送信できませんでした" in body
    (event,) = await events(gateway, "host_wake_requested")
    assert event.outcome == "error"


async def test_the_policy_can_take_the_portal_button_away(gateway: RunningGateway) -> None:
    await set_network(gateway, "pc-1", [PC1])
    async with database(gateway) as s:
        await set_policy(s, "department", "総務課", {"wake": False}, "test")
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        assert (await b.login(gateway.staff["alice"]))[0] == 303
        _status, page, _r = await b.get("/")
        assert "data-wake" not in page
        status, body = await portal(b, "POST", "pc-1")
    assert status == 403 and body["reason"] == "not_allowed"
    assert await events(gateway, "host_wake_requested") == []


async def test_a_scoped_helpdesk_wakes_only_pcs_in_scope(gateway: RunningGateway) -> None:
    await set_network(gateway, "pc-2", [PC1])
    await add_console_user(gateway, "dhd", "helpdesk", "総務課")
    async with database(gateway) as s:
        finance = await department_id(s, "財政課")
        general = await department_id(s, "総務課")
        bob = await s.get(User, "bob")
        assert bob is not None and general is not None and finance is not None
        bob.department_id = finance
        await set_scope(s, "dhd", [general], [])
    async with await logged_in(gateway, "dhd") as b:
        status, _body, _location = await post(b, "/admin/pcs/pc-2/wake", {})  # bob's PC, 財政課
        missing, _body, _location = await post(b, "/admin/pcs/pc-none/wake", {})
        mine, body, _location = await post(b, "/admin/pcs/pc-1/wake", {})  # alice's PC, 総務課: in scope
    assert status == missing == 404
    assert mine == 409 and "ネットワーク情報がまだ届いていません" in body  # pc-1 never reported its network
    (event,) = await events(gateway, "host_wake_requested")
    assert event.subject == "pc-1"


async def test_the_pcs_list_powers_on_ticked_pcs_in_bulk(gateway: RunningGateway) -> None:
    await set_network(gateway, "pc-1", [PC1])
    await add_console_users(gateway)
    async with aiohttp.ClientSession() as http:
        relay = await relay_agent(gateway, http)  # pc-2: online (left as it is), and pc-1's relay
        async with await logged_in(gateway, "root") as b:
            _status, page, _r = await b.get("/admin/pcs")
            assert 'value="wake"' in page  # the bulk action is offered
            token = await console_csrf(b)
            data = [("csrf_token", token), ("action", "wake"), ("select", "checked"), ("q", "")]
            data += [("id", "pc-1"), ("id", "pc-2")]
            status, page, _r = await b.post_form("/admin/bulk/pcs", data)  # type: ignore[arg-type]
            assert status == 200 and "2台の自席PCにWake-on-LANの信号を送ります" in page
            status, page, _r = await b.post_form("/admin/bulk/pcs/apply", data)  # type: ignore[arg-type]
        relay.cancel()
    assert status == 200 and 'data-changed="1"' in page, page[:2000]
    (one,) = await events(gateway, "host_wake_requested")
    assert one.subject == "pc-1"
    (summary,) = await events(gateway, "bulk_action")
    assert json.loads(summary.details or "{}")["action"] == "pcs_wake"


async def test_a_relay_agent_held_by_another_node_is_asked_through_it(cluster: Cluster) -> None:  # noqa: F811
    """The console on node B; the relay agent's control channel on node A: `wake` and its answer travel
    by PostgreSQL NOTIFY."""
    await set_network(cluster.a, "pc-1", [PC1])
    await add_console_users(cluster.b)
    async with aiohttp.ClientSession() as http:
        relay = await relay_agent(cluster.a, http)
        async with await logged_in(cluster.b, "root") as b:
            status, body, _location = await post(b, "/admin/pcs/pc-1/wake", {})
        relay.cancel()
    assert status == 303, body[:2000]
    (event,) = await events(cluster.b, "host_wake_requested")
    assert json.loads(event.details or "{}")["relay"] == "pc-2"


async def test_requests_at_the_same_moment_send_once(gateway: RunningGateway) -> None:
    """Double clicks and several people at once: one conditional UPDATE claims the request."""
    await set_network(gateway, "pc-1", [PC1])
    async with aiohttp.ClientSession() as http, Browser(gateway, gateway.terminal_ssl()) as b:
        relay = await relay_agent(gateway, http)
        assert (await b.login(gateway.staff["alice"]))[0] == 303
        answers = await asyncio.gather(*(portal(b, "POST", "pc-1") for _ in range(6)))
        relay.cancel()
    statuses = sorted(status for status, _body in answers)
    assert statuses == [202, 409, 409, 409, 409, 409], answers
    assert all("少し前に" in str(body["message"]) for status, body in answers if status == 409)
    assert len(await events(gateway, "host_wake_requested")) == 1  # the one that sent
