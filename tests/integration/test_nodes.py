"""Two gateway nodes on one PostgreSQL: offers travel by LISTEN/NOTIFY, the agent dials the viewer's
node, a dead node is cleaned up after."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from jiseki.config import AuthConfig, Config, GatewayConfig
from jiseki.gateway import nodes as nodes_module
from jiseki.gateway.auth import totp
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import Host, Session
from jiseki.gateway.end_reasons import EndReason
from jiseki.gateway.pki import CertificateAuthority
from jiseki.gateway.server import serve
from jiseki.protocol import Desktop, Monitor, Status, StatusCode, decode_from_agent, encode
from tests.conftest import free_ports

from .conftest import Browser, RunningGateway, provision
from .console_support import add_console_users, logged_in, post


class Cluster:
    def __init__(
        self,
        a: RunningGateway,
        b: RunningGateway,
        stops: dict[str, asyncio.Event],
        tasks: dict[str, asyncio.Task[None]],
    ) -> None:
        self.a, self.b, self.stops, self.tasks = a, b, stops, tasks


async def _wait_listening(port: int, task: asyncio.Task[None]) -> None:
    """Wait until the node accepts connections; fail with its own error if it stopped instead."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60  # a loaded CI machine can take long to migrate and start two nodes
    while loop.time() < deadline:
        if task.done():
            task.result()  # raises the node's error
            raise AssertionError(f"node on port {port} stopped before listening")
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"node on port {port} not listening after 60 s")


@pytest.fixture
def ticket_seconds() -> int:
    """The nodes' session ticket lifetime; a test overrides it by parametrizing this name."""
    return 15


@pytest.fixture
async def cluster(tmp_path: Path, postgres: object, ticket_seconds: int) -> AsyncIterator[Cluster]:
    url = postgres.new_database()  # type: ignore[attr-defined]
    shared = tmp_path / "shared"  # CA, TOTP key: shared by every node (docs/deployment.md)
    base = GatewayConfig(data_dir=shared, database_url=url, drain_seconds=1)
    configs = {}
    for name, port in zip(("node-a", "node-b"), free_ports(2), strict=True):
        configs[name] = Config(
            gateway=replace(base, port=port, node_id=name, public_url=f"https://127.0.0.1:{port}"),
            auth=AuthConfig(address_max_failures=1000, ticket_seconds=ticket_seconds),
        )
    staff = await provision(configs["node-a"], tmp_path)
    stops = {n: asyncio.Event() for n in configs}
    tasks = {n: asyncio.create_task(serve(c, stops[n])) for n, c in configs.items()}
    for n, c in configs.items():
        await _wait_listening(c.gateway.port, tasks[n])
    ca = CertificateAuthority(shared / "pki")
    gw = {n: RunningGateway(c, c.gateway.effective_public_url, tmp_path, ca, staff) for n, c in configs.items()}
    try:
        yield Cluster(gw["node-a"], gw["node-b"], stops, tasks)
    finally:
        for n in configs:
            stops[n].set()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


async def _agent_on(gw: RunningGateway, s: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    control = await s.ws_connect(gw.url + "/agent/control", ssl=gw.agent_ssl())
    await control.send_str(json.dumps({"type": "hello", "hostname": "desk-01"}))
    engine = make_engine(gw.db_url())
    try:
        for _ in range(100):  # until the node has recorded the agent as online
            async with sessionmaker(engine)() as db:
                host = await db.get(Host, "pc-1")
            if host is not None and host.online:
                return control
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    raise AssertionError("the agent did not come online")


async def test_viewer_on_b_reaches_agent_held_by_a(cluster: Cluster) -> None:
    async with Browser(cluster.b, cluster.b.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _agent_on(cluster.a, s)  # the agent's control channel is on node A
        await b.login(cluster.b.staff["alice"])  # the staff member is on node B
        status, created = await b.request_session("pc-1")
        assert status == 201, created
        viewer = await b.viewer_socket(created)
        assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.WAITING_FOR_HOST
        offer = json.loads((await control.receive(timeout=5)).data)  # relayed by NOTIFY from B through A
        assert offer["type"] == "offer" and offer["url"] == cluster.b.url
        agent = await s.ws_connect(f"{offer['url']}{offer['path']}?ticket={offer['ticket']}", ssl=cluster.a.agent_ssl())
        assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
        desktop = Desktop(640, 480, (Monitor(0, 0, 640, 480),))
        await agent.send_bytes(encode(desktop))
        assert decode_from_agent((await viewer.receive(timeout=5)).data) == desktop  # relayed by node B only
        engine = make_engine(cluster.a.db_url())
        try:
            async with sessionmaker(engine)() as db:
                row = await db.get(Session, created["session"])
                host = await db.get(Host, "pc-1")
            assert row is not None and row.node_id == "node-b" and row.state == "live"
            assert host is not None and host.control_node == "node-a"
        finally:
            await engine.dispose()
        await viewer.close()
        await control.close()


async def _live_on_b(cluster: Cluster, b: Browser, s: aiohttp.ClientSession, control: aiohttp.ClientWebSocketResponse):  # type: ignore[no-untyped-def]
    """A live session for alice, relayed by node B, whose agent holds its control channel on node A."""
    status, created = await b.request_session("pc-1")
    assert status == 201, created
    viewer = await b.viewer_socket(created)
    assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.WAITING_FOR_HOST
    offer = json.loads((await control.receive(timeout=5)).data)
    agent = await s.ws_connect(f"{offer['url']}{offer['path']}?ticket={offer['ticket']}", ssl=cluster.a.agent_ssl())
    assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
    await agent.send_bytes(encode(Desktop(640, 480, (Monitor(0, 0, 640, 480),))))
    assert isinstance(decode_from_agent((await viewer.receive(timeout=5)).data), Desktop)
    return created["session"], viewer, agent


async def test_console_on_one_node_ends_sessions_relayed_by_the_other(cluster: Cluster) -> None:
    """Ending a session, or disabling its staff member, from node A's console closes it on node B."""
    await add_console_users(cluster.a)  # the two nodes share one staff dictionary
    async with Browser(cluster.b, cluster.b.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _agent_on(cluster.a, s)
        await b.login(cluster.b.staff["alice"])
        session_id, viewer, agent = await _live_on_b(cluster, b, s, control)
        async with await logged_in(cluster.a, "hd") as helpdesk:
            end = f"/admin/session/{session_id}/end"
            status, _page, location = await post(helpdesk, end, {"message": "保守作業", "hold": "0"})
            assert status == 303 and location.endswith("done=ended"), _page[:500]
        assert decode_from_agent((await viewer.receive(timeout=10)).data) == Status(StatusCode.SESSION_ENDED, "admin")
        await agent.close()

        session_id, viewer, agent = await _live_on_b(cluster, b, s, control)
        async with await logged_in(cluster.a, "root") as root:
            status, _page, _location = await post(root, "/admin/account/alice/disable", {})
            assert status == 303, _page[:500]
        ended = decode_from_agent((await viewer.receive(timeout=10)).data)
        assert ended == Status(StatusCode.SESSION_ENDED, EndReason.ACCOUNT_DISABLED)
        engine = make_engine(cluster.a.db_url())
        try:
            for _ in range(50):  # the relay on B records the end as its sockets close
                async with sessionmaker(engine)() as db:
                    row = await db.get(Session, session_id)
                if row is not None and row.state == "ended":
                    break
                await asyncio.sleep(0.1)
            assert row is not None and row.state == "ended" and row.end_reason == ended.detail
        finally:
            await engine.dispose()
        await agent.close()
        await control.close()


async def test_an_account_changed_by_another_process_ends_sessions_on_every_node(cluster: Cluster) -> None:
    """Neither node made the change (a CLI run, a script): each node finds it in the database."""
    from jiseki.gateway import admin

    async with Browser(cluster.b, cluster.b.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _agent_on(cluster.a, s)
        await b.login(cluster.b.staff["alice"])
        _session, viewer, agent = await _live_on_b(cluster, b, s, control)
        engine = make_engine(cluster.a.db_url())
        try:
            async with sessionmaker(engine).begin() as db:
                await admin.set_disabled(db, "alice", True, "script")
        finally:
            await engine.dispose()
        ended = decode_from_agent((await viewer.receive(timeout=6)).data)
        assert ended == Status(StatusCode.SESSION_ENDED, EndReason.ACCOUNT_DISABLED)
        await agent.close()
        await control.close()


@pytest.fixture
def fast_ticket_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    from jiseki.gateway import server

    monkeypatch.setattr(server, "TICKET_SWEEP_INTERVAL", 0.2)


@pytest.mark.parametrize("ticket_seconds", [2])
async def test_an_unused_request_on_one_node_does_not_keep_the_pc_in_use(
    fast_ticket_sweep: None, cluster: Cluster
) -> None:
    """A Connect whose viewer never opened (browser closed, link lost) must not leave the PC "in use"
    for the other node, which knows the session only from the database."""
    async with Browser(cluster.b, cluster.b.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _agent_on(cluster.a, s)
        await b.login(cluster.b.staff["alice"])
        status, created = await b.request_session("pc-1")  # on node B; the viewer never comes
        assert status == 201, created
        async with Browser(cluster.a, cluster.a.terminal_ssl("term-2")) as a:
            await a.login(cluster.a.staff["alice"], code=_next_code(cluster.a, "alice"))
            status, body = await a.request_session("pc-1")
            assert status == 409 and body["error"] == "in_use"  # within the ticket's life: still taken
            engine = make_engine(cluster.a.db_url())
            try:
                for _ in range(100):
                    async with sessionmaker(engine)() as db:
                        row = await db.get(Session, created["session"])
                    if row is not None and row.state == "ended":
                        break
                    await asyncio.sleep(0.1)
                assert row is not None and row.state == "ended" and row.end_reason == "not_connected"
            finally:
                await engine.dispose()
            status, body = await a.request_session("pc-1")
            assert status == 201, body
        await control.close()


def _next_code(gw: RunningGateway, login_id: str) -> str:
    secret = gw.staff[login_id].totp_secret
    assert secret is not None
    return totp.code_at(secret, time.time() + 30)  # the next step: the current one was just used


@pytest.fixture
def fast_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the nodes start, so every heartbeat follows the short timing."""
    import datetime as dt

    monkeypatch.setattr(nodes_module, "DEAD_AFTER", dt.timedelta(seconds=2))
    monkeypatch.setattr(nodes_module, "HEARTBEAT_INTERVAL", 0.5)


async def test_a_dead_node_is_cleaned_up_by_the_other(fast_heartbeat: None, cluster: Cluster) -> None:
    async with aiohttp.ClientSession() as s:
        control = await _agent_on(cluster.a, s)  # keep the socket: a dropped one closes
        engine = make_engine(cluster.a.db_url())
        try:
            db = sessionmaker(engine)
            async with db() as sess:
                assert (await sess.get(Host, "pc-1")).online  # type: ignore[union-attr]
            # Node A "dies": its heartbeat stops (a frozen process; kill -9 looks the same to node B).
            cluster.tasks["node-a"].cancel()
            for _ in range(100):
                async with db() as sess:
                    host = await sess.get(Host, "pc-1")
                    alive = (await sess.execute(select(Session))).all()
                if host is not None and not host.online:
                    break
                await asyncio.sleep(0.2)
            assert host is not None and not host.online and host.control_node is None
            assert alive == [] or all(r[0].state == "ended" for r in alive)
            await control.close()
        finally:
            await engine.dispose()


async def test_offers_still_travel_after_postgresql_restarts(cluster: Cluster, postgres: object) -> None:
    async with Browser(cluster.b, cluster.b.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _agent_on(cluster.a, s)
        await b.login(cluster.b.staff["alice"])
        await asyncio.to_thread(postgres.restart)  # type: ignore[attr-defined]
        await asyncio.sleep(3.0)  # the nodes notice and listen again
        for _ in range(20):  # the first request after a restart may meet a dead pooled connection
            try:
                status, created = await b.request_session("pc-1")
            except aiohttp.ClientError:
                status = 0
            if status == 201:
                break
            await asyncio.sleep(0.5)
        assert status == 201
        viewer = await b.viewer_socket(created)
        offer = json.loads((await control.receive(timeout=10)).data)
        assert offer["type"] == "offer" and offer["session"] == created["session"]
        await viewer.close()
        await control.close()
