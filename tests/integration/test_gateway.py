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
from jiseki.gateway.pki import client_ssl_context
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

from .conftest import Browser, RunningGateway, issue_other_ca_cert

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too


async def test_security_headers_on_every_page(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, _page, r = await b.get("/login")
        assert status == 200
        headers = r.headers
        assert headers["Cache-Control"] == "no-store"
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["X-Content-Type-Options"] == "nosniff"


async def test_page_code_is_served_gzipped_under_its_release_address(gateway: RunningGateway) -> None:
    from importlib import resources

    from jiseki.gateway.web import assets

    source = resources.files("jiseki.web").joinpath("static", "core", "protocol.js").read_bytes()
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        url = gateway.url + assets.url("core/protocol.js")
        async with b.http.get(url, ssl=b.ssl, headers={"Accept-Encoding": "gzip"}) as r:
            assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
            assert "javascript" in r.headers["Content-Type"] and "immutable" in r.headers["Cache-Control"]
            assert await r.read() == source  # (the client inflates it)
        async with b.http.get(url, ssl=b.ssl, headers={"Accept-Encoding": "identity"}, auto_decompress=False) as r:
            assert "Content-Encoding" not in r.headers and await r.read() == source
        for bad in ("core/nope.js", "templates/viewer.html", "core/..%2fapp/viewer.js"):
            async with b.http.get(gateway.url + assets.url(bad), ssl=b.ssl) as r:
                assert r.status == 404 and r.headers["Cache-Control"] == "no-store", bad


async def test_session_api_checks_origin_and_host(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        assert (await b.login(gateway.staff["alice"]))[0] == 303
        csrf = await b.csrf()
        async with b.http.post(
            gateway.url + "/api/sessions", json={"host_id": "pc-1"}, ssl=b.ssl, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 403  # no Origin: refused
        status, body = await b.request_session("pc-1")
        assert status == 409 and body["error"] == "host_offline"
        assert body["message"] == "自席PCがオフラインです。"
        status, body = await b.request_session("nope")
        assert status == 404
        headers = {"Origin": gateway.url, "X-CSRF-Token": csrf, "Content-Type": "application/json"}
        async with b.http.post(gateway.url + "/api/sessions", data="{not json", ssl=b.ssl, headers=headers) as r:
            assert r.status == 400


async def test_session_socket_answers_first_then_carries_the_display_channel(gateway: RunningGateway) -> None:
    """`/hosts/{id}/session`: the request, the offer and the display channel on one socket."""
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        # Before the login: the socket opens and says so (a browser cannot read a refused handshake).
        ws = await b.session_socket("pc-1")
        assert json.loads((await ws.receive(timeout=5)).data) == {
            "status": 401,
            "error": "login_required",
            "message": "もう一度ログインしてください。",
        }
        assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert (await b.login(gateway.staff["alice"]))[0] == 303
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:  # another site's page
            await b.session_socket("pc-1", origin="https://evil.example")
        assert err.value.status == 403
        # Refusals answer as the POST does, in the staff member's language, then close.
        for host, status, error in (
            ("pc-1", 409, "host_offline"),
            ("nope", 404, "unknown_host"),
            ("x" * 65, 400, "bad_request"),
        ):
            ws = await b.session_socket(host)
            answer = json.loads((await ws.receive(timeout=5)).data)
            assert (answer["status"], answer["error"]) == (status, error), answer
            assert answer["message"]
            assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        # The PC comes online: the answer is the session, then the display channel as usual.
        control = await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl())
        await control.send_str(json.dumps({"type": "hello", "hostname": "desk-01", "os": "Linux"}))
        await asyncio.sleep(0.2)
        viewer = await b.session_socket("pc-1")
        answer = json.loads((await viewer.receive(timeout=5)).data)
        assert set(answer) == {"session", "resume"}
        assert decode_from_agent((await viewer.receive(timeout=5)).data) == Status(StatusCode.WAITING_FOR_HOST, "")
        offer = json.loads((await control.receive(timeout=5)).data)
        assert offer["type"] == "offer" and offer["session"] == answer["session"]
        agent = await s.ws_connect(f"{gateway.url}{offer['path']}?ticket={offer['ticket']}", ssl=gateway.agent_ssl())
        assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
        await agent.send_bytes(encode(Desktop(800, 600, (Monitor(0, 0, 800, 600),))))
        assert isinstance(decode_from_agent((await viewer.receive(timeout=5)).data), Desktop)
        # The resume token of the answer brings a broken viewer back to the same session.
        transport = viewer.get_extra_info("socket")
        assert transport is not None
        transport.shutdown(2)  # the link breaks: no close frame
        await asyncio.sleep(0.3)
        resumed = await b.http.ws_connect(
            f"{gateway.url}/sessions/{answer['session']}/viewer?resume={answer['resume']}",
            headers={"Origin": gateway.url},
            ssl=b.ssl,
        )
        assert isinstance(decode_from_agent((await resumed.receive(timeout=5)).data), Desktop)
        await control.close()


async def test_agent_without_certificate_is_refused(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.plain_ssl())
    assert err.value.status == 403


async def test_agent_with_certificate_of_another_ca_is_refused(gateway: RunningGateway, tmp_path: Path) -> None:
    rogue = issue_other_ca_cert(tmp_path)
    ssl_ctx = gateway.plain_ssl()
    ssl_ctx.load_cert_chain(rogue / "client.crt", rogue / "client.key")
    async with aiohttp.ClientSession() as s:
        with pytest.raises((aiohttp.ClientError, OSError)):
            ws = await s.ws_connect(gateway.url + "/agent/control", ssl=ssl_ctx)
            await ws.receive(timeout=5)  # TLS 1.3 may report the refusal on first read


async def test_unregistered_or_wrong_kind_certificate_is_refused(gateway: RunningGateway, tmp_path: Path) -> None:
    import datetime as dt

    # Issued by the right CA but never recorded (unknown), and a terminal's certificate used by an agent.
    for kind, ident in (("agent", "pc-unknown"), ("terminal", "pc-1")):
        issued = gateway.ca.issue_client_cert(kind, ident, dt.timedelta(days=1))
        d = tmp_path / f"{kind}-{ident}"
        write_agent_files(d, issued.key_pem, issued.cert_pem, gateway.ca.root_cert_path.read_bytes())
        ctx = client_ssl_context(d / "ca.crt", d / "agent.crt", d / "agent.key")
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await s.ws_connect(gateway.url + "/agent/control", ssl=ctx)
        assert err.value.status == 403


async def _paired(b: Browser, gw: RunningGateway, s: aiohttp.ClientSession):  # type: ignore[no-untyped-def]
    """alice's viewer and pc-1's agent, paired through the gateway."""
    control = await s.ws_connect(gw.url + "/agent/control", ssl=gw.agent_ssl())
    await control.send_str(json.dumps({"type": "hello", "hostname": "desk-01", "os": "Linux"}))
    await asyncio.sleep(0.2)
    assert (await b.login(gw.staff["alice"]))[0] == 303
    status, created = await b.request_session("pc-1")
    assert status == 201, created
    bad = dict(created, ticket="wrong")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await b.viewer_socket(bad)
    viewer = await b.viewer_socket(created)
    assert decode_from_agent((await viewer.receive(timeout=5)).data) == Status(StatusCode.WAITING_FOR_HOST, "")
    offer = json.loads((await control.receive(timeout=5)).data)
    assert offer["type"] == "offer"
    agent = await s.ws_connect(f"{gw.url}{offer['path']}?ticket={offer['ticket']}", ssl=gw.agent_ssl())
    assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
    return control, viewer, agent


async def test_pairing_relay_and_end_reason(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, viewer, agent = await _paired(b, gateway, s)

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
                assert row.user_id == "alice" and row.terminal_id == "term-1"
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
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control, viewer, agent = await _paired(b, gateway, s)
        await viewer.send_bytes(encode(Update(1, ())))  # an UPDATE from the viewer is not allowed
        ended = decode_from_agent((await viewer.receive(timeout=5)).data)
        assert ended == Status(StatusCode.SESSION_ENDED, "protocol_error")
        msg = await agent.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await control.close()
