"""The gateway over real TLS: access token, security headers, agent certificates, pairing and relay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import Host, Session
from jiseki.gateway.hosts import write_agent_files
from jiseki.protocol import (
    Codec,
    Desktop,
    FillOp,
    Hello,
    ImageOp,
    Key,
    Monitor,
    Status,
    StatusCode,
    Update,
    decode_from_agent,
    decode_from_viewer,
    encode,
)

from .conftest import TOKEN, RunningGateway, http, issue_other_ca_cert

COOKIE = {"Cookie": f"jiseki_access={TOKEN}"}


async def test_pages_need_the_access_token(gateway: RunningGateway) -> None:
    status, _h, body = await http(gateway, "GET", "/view/pc-1")
    assert status == 403 and "有効なアクセス用リンク" in body
    status, _h, body = await http(gateway, "GET", "/view/pc-1?token=wrong&lang=en")
    assert status == 403 and "valid access link" in body
    status, _h, _b = await http(gateway, "GET", "/static/app/viewer.js")
    assert status == 403
    status, headers, _b = await http(gateway, "GET", f"/view/pc-1?token={TOKEN}")
    assert status == 303
    assert headers["Location"] == "/view/pc-1"  # the token leaves the address bar
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
    status, headers, body = await http(gateway, "GET", "/view/pc-1", headers=COOKIE)
    assert status == 200 and 'data-host="pc-1"' in body
    assert headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_session_api_checks_origin_and_host(gateway: RunningGateway) -> None:
    body = json.dumps({"host_id": "pc-1"})
    status, _h, _b = await http(gateway, "POST", "/api/sessions", headers=COOKIE, data=body)
    assert status == 403  # no Origin: refused
    origin = {**COOKIE, "Origin": gateway.url, "Content-Type": "application/json"}
    status, _h, text = await http(gateway, "POST", "/api/sessions", headers=origin, data=body)
    assert status == 409 and json.loads(text)["error"] == "host_offline"
    assert json.loads(text)["message"] == "自席PCがオフラインです。"
    status, _h, text = await http(gateway, "POST", "/api/sessions", headers=origin, data=json.dumps({"host_id": "x"}))
    assert status == 404
    status, _h, text = await http(gateway, "POST", "/api/sessions", headers=origin, data="{not json")
    assert status == 400


async def test_agent_without_certificate_is_refused(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.browser_ssl())
    assert err.value.status == 403


async def test_agent_with_certificate_of_another_ca_is_refused(gateway: RunningGateway, tmp_path: Path) -> None:
    rogue = issue_other_ca_cert(tmp_path)
    ssl_ctx = gateway.browser_ssl()
    ssl_ctx.load_cert_chain(rogue / "agent.crt", rogue / "agent.key")
    async with aiohttp.ClientSession() as s:
        with pytest.raises((aiohttp.ClientError, OSError)):
            ws = await s.ws_connect(gateway.url + "/agent/control", ssl=ssl_ctx)
            await ws.receive(timeout=5)  # TLS 1.3 may report the refusal on first read


async def test_unregistered_or_wrong_kind_certificate_is_refused(gateway: RunningGateway, tmp_path: Path) -> None:
    import datetime as dt

    for kind, ident in (("agent", "pc-unknown"), ("terminal", "pc-1")):
        issued = gateway.ca.issue_client_cert(kind, ident, dt.timedelta(days=1))
        d = tmp_path / f"{kind}-{ident}"
        write_agent_files(d, issued.key_pem, issued.cert_pem, gateway.ca.root_cert_path.read_bytes())
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl(d))
        assert err.value.status == 403


async def _viewer_session(s: aiohttp.ClientSession, gw: RunningGateway) -> aiohttp.ClientWebSocketResponse:
    headers = {**COOKIE, "Origin": gw.url}
    async with s.post(gw.url + "/api/sessions", json={"host_id": "pc-1"}, headers=headers, ssl=gw.browser_ssl()) as r:
        assert r.status == 201, await r.text()
        created = await r.json()
    bad = f"{gw.url}/sessions/{created['session']}/viewer?ticket=wrong"
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await s.ws_connect(bad, headers=headers, ssl=gw.browser_ssl())
    url = f"{gw.url}/sessions/{created['session']}/viewer?ticket={created['ticket']}"
    return await s.ws_connect(url, headers=headers, ssl=gw.browser_ssl())


async def test_pairing_relay_and_end_reason(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        control = await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl())
        await control.send_str(json.dumps({"type": "hello", "hostname": "desk-01", "os": "Linux"}))
        await asyncio.sleep(0.2)
        viewer = await _viewer_session(s, gateway)
        status = decode_from_agent((await viewer.receive(timeout=5)).data)
        assert status == Status(StatusCode.WAITING_FOR_HOST, "")
        offer = json.loads((await control.receive(timeout=5)).data)
        assert offer["type"] == "offer"
        data_url = f"{gateway.url}{offer['path']}?ticket={offer['ticket']}"
        agent = await s.ws_connect(data_url, ssl=gateway.agent_ssl())
        assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED

        desktop = Desktop(800, 600, (Monitor(0, 0, 800, 600),))
        update = Update(1, (FillOp(0, 0, 800, 600, 1, 2, 3), ImageOp(0, 0, 4, 4, Codec.WEBP, b"RIFFxxxxWEBP")))
        await agent.send_bytes(encode(desktop))
        await agent.send_bytes(encode(update))
        assert decode_from_agent((await viewer.receive(timeout=5)).data) == desktop
        assert decode_from_agent((await viewer.receive(timeout=5)).data) == update
        await viewer.send_bytes(encode(Hello(1)))
        await viewer.send_bytes(encode(Key(0x00070004, True)))
        assert decode_from_viewer((await agent.receive(timeout=5)).data) == Hello(1)
        assert decode_from_viewer((await agent.receive(timeout=5)).data) == Key(0x00070004, True)

        # A malformed message from the agent ends the session; the viewer is told why.
        await agent.send_bytes(b"\xff\x00")
        ended = decode_from_agent((await viewer.receive(timeout=5)).data)
        assert ended == Status(StatusCode.SESSION_ENDED, "protocol_error")
        closing = await viewer.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await control.close()

    engine = make_engine(gateway.db_url())
    try:
        for _ in range(50):  # the gateway records the end right after the viewer is told
            async with sessionmaker(engine)() as db:
                row = (await db.execute(select(Session))).scalar_one()
                host = await db.get(Host, "pc-1")
            if row.state == "ended":
                break
            await asyncio.sleep(0.1)
        assert row.state == "ended" and row.end_reason == "protocol_error"
        assert row.bytes_to_viewer == len(encode(desktop)) + len(encode(update))
        assert row.updates == 1 and row.started_at is not None and row.ended_at is not None
        assert host is not None and host.hostname == "desk-01"
    finally:
        await engine.dispose()


async def test_viewer_may_not_send_display_messages(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        control = await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl())
        await control.send_str(json.dumps({"type": "hello"}))
        await asyncio.sleep(0.2)
        viewer = await _viewer_session(s, gateway)
        await viewer.receive(timeout=5)
        offer = json.loads((await control.receive(timeout=5)).data)
        agent = await s.ws_connect(f"{gateway.url}{offer['path']}?ticket={offer['ticket']}", ssl=gateway.agent_ssl())
        await viewer.receive(timeout=5)
        await viewer.send_bytes(encode(Update(1, ())))  # an UPDATE from the viewer is not allowed
        ended = decode_from_agent((await viewer.receive(timeout=5)).data)
        assert ended == Status(StatusCode.SESSION_ENDED, "protocol_error")
        msg = await agent.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await control.close()
