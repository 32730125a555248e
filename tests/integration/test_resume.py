"""A dropped link does not cost the session: it resumes within the grace period, else ends "network"."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from sqlalchemy import select

from jiseki.config import AuthConfig
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, Session
from jiseki.protocol import (
    Ack,
    Codec,
    Desktop,
    ImageOp,
    Key,
    KeyboardLayout,
    LayoutKey,
    Monitor,
    Refresh,
    Status,
    StatusCode,
    Update,
    decode_from_agent,
    decode_from_viewer,
    encode,
)

from .conftest import Browser, RunningGateway


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(address_max_failures=1000)


@pytest.fixture
def gateway_options() -> dict:
    return {"resume_grace_seconds": 6}


def _cut(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The network goes away under the socket: no close frame, no goodbye."""
    ws._writer.transport.abort()


async def _session_row(gw: RunningGateway, sid: str) -> Session:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine)() as db:
            row = await db.get(Session, sid)
            assert row is not None
            return row
    finally:
        await engine.dispose()


async def _start(b: Browser, gw: RunningGateway, s: aiohttp.ClientSession):  # type: ignore[no-untyped-def]
    control = await s.ws_connect(gw.url + "/agent/control", ssl=gw.agent_ssl())
    await control.send_str(json.dumps({"type": "hello"}))
    await asyncio.sleep(0.3)
    await b.login(gw.staff["alice"])
    status, created = await b.request_session("pc-1")
    assert status == 201 and "resume" in created
    viewer = await b.viewer_socket(created)
    assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.WAITING_FOR_HOST
    offer = json.loads((await control.receive(timeout=5)).data)
    agent = await s.ws_connect(f"{gw.url}{offer['path']}?ticket={offer['ticket']}", ssl=gw.agent_ssl())
    assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
    desktop = Desktop(320, 200, (Monitor(0, 0, 320, 200),))
    await agent.send_bytes(encode(desktop))
    await agent.send_bytes(encode(Update(7, (ImageOp(0, 0, 1, 1, Codec.PNG, b"x"),))))
    assert decode_from_agent((await viewer.receive(timeout=5)).data) == desktop
    await viewer.receive(timeout=5)
    await viewer.send_bytes(encode(Key(0x000700E1, True)))  # Shift held when the link breaks
    assert decode_from_viewer((await agent.receive(timeout=5)).data) == Key(0x000700E1, True)
    return control, created, viewer, agent, offer, desktop


async def test_viewer_link_drops_and_the_same_session_resumes(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, created, viewer, agent, _offer, desktop = await _start(b, gateway, s)
        _cut(viewer)
        # The office PC: Shift released, the lost viewer's update acknowledged for it.
        got = {decode_from_viewer((await agent.receive(timeout=45)).data) for _ in range(2)}
        assert got == {Key(0x000700E1, False), Ack(7, 0)}
        await asyncio.sleep(1.0)  # five seconds or one: the session waits
        assert (await _session_row(gateway, created["session"])).state == "live"
        url = f"{gateway.url}/sessions/{created['session']}/viewer?resume={created['resume']}"
        resumed = await b.http.ws_connect(url, headers={"Origin": gateway.url}, ssl=b.ssl)
        assert decode_from_agent((await resumed.receive(timeout=5)).data) == desktop  # layout again
        assert decode_from_agent((await resumed.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
        assert decode_from_viewer((await agent.receive(timeout=5)).data) == Refresh()  # a full picture
        await agent.send_bytes(encode(Update(8, ())))
        assert decode_from_agent((await resumed.receive(timeout=5)).data) == Update(8, ())
        await resumed.close()
        await control.close()
    engine = make_engine(gateway.db_url())
    try:
        async with sessionmaker(engine)() as db:
            kinds = [e.kind for e in (await db.execute(select(AuditEvent))).scalars()]
        assert "session_resumed" in kinds
    finally:
        await engine.dispose()


async def test_resume_needs_the_token_the_user_and_the_terminal(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, created, viewer, _agent, _offer, _desktop = await _start(b, gateway, s)
        _cut(viewer)
        await asyncio.sleep(0.5)
        bad = f"{gateway.url}/sessions/{created['session']}/viewer?resume=forged"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await b.http.ws_connect(bad, headers={"Origin": gateway.url}, ssl=b.ssl)
        async with Browser(gateway, gateway.terminal_ssl("term-2")) as other:
            await other.login(gateway.staff["bob"])
            url = f"{gateway.url}/sessions/{created['session']}/viewer?resume={created['resume']}"
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await other.http.ws_connect(url, headers={"Origin": gateway.url}, ssl=other.ssl)
        await control.close()


async def test_after_the_grace_period_the_session_ends_with_network(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, created, viewer, _agent, _offer, _desktop = await _start(b, gateway, s)
        _cut(viewer)
        for _ in range(100):
            if (await _session_row(gateway, created["session"])).state == "ended":
                break
            await asyncio.sleep(0.2)
        row = await _session_row(gateway, created["session"])
        assert row.state == "ended" and row.end_reason == "network"
        await control.close()


async def test_agent_link_drops_and_the_agent_comes_back(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, created, viewer, agent, offer, desktop = await _start(b, gateway, s)
        _cut(agent)
        assert decode_from_agent((await viewer.receive(timeout=45)).data).code == StatusCode.WAITING_FOR_HOST
        again = await s.ws_connect(f"{gateway.url}{offer['path']}?ticket={offer['ticket']}", ssl=gateway.agent_ssl())
        assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
        await again.send_bytes(encode(desktop))
        assert decode_from_agent((await viewer.receive(timeout=5)).data) == desktop
        assert (await _session_row(gateway, created["session"])).state == "live"
        await viewer.close()
        await control.close()


async def test_a_resumed_viewer_gets_the_office_pcs_keyboard_layout_again(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, created, viewer, agent, _offer, desktop = await _start(b, gateway, s)
        layout = KeyboardLayout("jp106/jp", (LayoutKey(0x2F, ord("@")),))
        await agent.send_bytes(encode(layout))
        assert decode_from_agent((await viewer.receive(timeout=5)).data) == layout
        _cut(viewer)
        for _ in range(2):  # Shift released and the lost update acknowledged, as in the test above
            await agent.receive(timeout=45)
        url = f"{gateway.url}/sessions/{created['session']}/viewer?resume={created['resume']}"
        resumed = await b.http.ws_connect(url, headers={"Origin": gateway.url}, ssl=b.ssl)
        assert decode_from_agent((await resumed.receive(timeout=5)).data) == desktop
        assert decode_from_agent((await resumed.receive(timeout=5)).data) == layout
        assert decode_from_agent((await resumed.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
        await resumed.close()
        await control.close()


async def test_an_end_while_the_agent_is_away_is_recorded_at_once(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, created, viewer, agent, offer, _desktop = await _start(b, gateway, s)
        _cut(agent)
        assert decode_from_agent((await viewer.receive(timeout=45)).data).code == StatusCode.WAITING_FOR_HOST
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _page, _r = await b.post_form("/logout", {"csrf_token": await b.csrf()})
        assert status == 303
        assert decode_from_agent((await viewer.receive(timeout=5)).data) == Status(
            StatusCode.SESSION_ENDED, "logged_out"
        )
        for _ in range(100):
            if (row := await _session_row(gateway, created["session"])).state == "ended":
                break
            await asyncio.sleep(0.1)
        assert row.end_reason == "logged_out"
        assert loop.time() - started < 3  # well within the grace period (6 s): nobody waits for the agent
        with pytest.raises(aiohttp.WSServerHandshakeError):  # an agent coming back finds no session
            await s.ws_connect(f"{gateway.url}{offer['path']}?ticket={offer['ticket']}", ssl=gateway.agent_ssl())
        await control.close()
