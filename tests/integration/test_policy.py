"""Policies enforced by the real gateway: clipboard, view-only, time limits, one session per PC."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from jiseki.gateway import drop_audit as drop_audit_module
from jiseki.gateway import rules as rules_module
from jiseki.gateway import session_run as session_run_module
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent
from jiseki.gateway.hosts import unassign
from jiseki.gateway.policies_db import set_host_group, set_policy
from jiseki.gateway.policy import JST
from jiseki.protocol import (
    Clipboard,
    Key,
    Pointer,
    Refresh,
    Status,
    StatusCode,
    decode_from_agent,
    decode_from_viewer,
    encode,
)

from .conftest import Browser, RunningGateway

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too


async def _apply(gw: RunningGateway, scope: str, name: str, **settings: Any) -> None:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine).begin() as s:
            if scope == "host_group":
                await set_host_group(s, "pc-1", name)
            await set_policy(s, scope, name, settings, "test")
    finally:
        await engine.dispose()


async def _audit(gw: RunningGateway, kind: str) -> list[AuditEvent]:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine)() as s:
            return list((await s.execute(select(AuditEvent).where(AuditEvent.kind == kind))).scalars())
    finally:
        await engine.dispose()


class Paired:
    def __init__(
        self, viewer: aiohttp.ClientWebSocketResponse, agent: aiohttp.ClientWebSocketResponse, offer: dict
    ) -> None:
        self.viewer, self.agent, self.offer = viewer, agent, offer


async def _pair(
    b: Browser, gw: RunningGateway, s: aiohttp.ClientSession, control: aiohttp.ClientWebSocketResponse
) -> Paired:
    status, created = await b.request_session("pc-1")
    assert status == 201, created
    viewer = await b.viewer_socket(created)
    assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.WAITING_FOR_HOST
    offer = json.loads((await control.receive(timeout=5)).data)
    agent = await s.ws_connect(f"{gw.url}{offer['path']}?ticket={offer['ticket']}", ssl=gw.agent_ssl())
    assert decode_from_agent((await viewer.receive(timeout=5)).data).code == StatusCode.HOST_CONNECTED
    return Paired(viewer, agent, offer)


async def _control(gw: RunningGateway, s: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    control = await s.ws_connect(gw.url + "/agent/control", ssl=gw.agent_ssl())
    await control.send_str(json.dumps({"type": "hello"}))
    await asyncio.sleep(0.2)
    return control


async def _nothing(ws: aiohttp.ClientWebSocketResponse, wait: float = 0.7) -> bool:
    try:
        await ws.receive(timeout=wait)
    except TimeoutError:
        return True
    return False


async def test_clipboard_none_drops_both_directions_and_audits_metadata(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        assert p.offer["policy"]["clipboard"] == "none"
        await p.viewer.send_bytes(encode(Clipboard("給与データ")))  # crafted: the page would not even send it
        await p.viewer.send_bytes(encode(Refresh()))
        assert decode_from_viewer((await p.agent.receive(timeout=5)).data) == Refresh()  # the clipboard never came
        await p.agent.send_bytes(encode(Clipboard("庁内資料")))
        assert await _nothing(p.viewer)
        await p.viewer.close()
    events = await _audit(gateway, "clipboard")
    assert {json.loads(e.details or "{}")["direction"] for e in events if e.outcome == "denied"} == {
        "to_host",
        "to_terminal",
    }
    assert all("給与" not in (e.details or "") and "庁内" not in (e.details or "") for e in events)
    assert all(len(json.loads(e.details or "{}")["sha256"]) == 64 for e in events)


async def test_clipboard_both_passes_and_is_audited(gateway: RunningGateway) -> None:
    await _apply(gateway, "department", "総務課", clipboard="both")
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        await p.viewer.send_bytes(encode(Clipboard("hello office")))
        assert decode_from_viewer((await p.agent.receive(timeout=5)).data) == Clipboard("hello office")
        await p.agent.send_bytes(encode(Clipboard("hello home")))
        assert decode_from_agent((await p.viewer.receive(timeout=5)).data) == Clipboard("hello home")
        await p.viewer.close()
    ok = [e for e in await _audit(gateway, "clipboard") if e.outcome == "ok"]
    assert sorted(json.loads(e.details or "{}")["bytes"] for e in ok) == [10, 12]


async def test_view_only_drops_input(gateway: RunningGateway) -> None:
    await _apply(gateway, "host_group", "窓口端末", view_only=True)
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        assert p.offer["policy"]["view_only"] is True
        for _ in range(3):
            await p.viewer.send_bytes(encode(Key(0x00070004, True)))
            await p.viewer.send_bytes(encode(Pointer(5, 5, 1)))
        await p.viewer.send_bytes(encode(Refresh()))
        assert decode_from_viewer((await p.agent.receive(timeout=5)).data) == Refresh()
        await p.viewer.close()
    first, *rest = await _ended_audit(gateway, "message_dropped")
    assert json.loads(first.details or "{}")["reason"] == "view_only"  # at once, then counted, not per key
    assert len(rest) == 1 and _details(rest[0])["count"] == 5 and _details(rest[0])["total"] == 6


def _details(event: AuditEvent) -> dict[str, Any]:
    return json.loads(event.details or "{}")


async def _ended_audit(gw: RunningGateway, kind: str) -> list[AuditEvent]:
    """The rows of `kind` once the session has ended (its last counts are written at the end)."""
    for _ in range(100):
        if await _audit(gw, "session_end"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the session did not end")
    return sorted(await _audit(gw, kind), key=lambda e: e.id)


@pytest.mark.parametrize("mode", ["to_host", "both"])
async def test_view_only_drops_terminal_clipboard_whatever_the_clipboard_policy(
    gateway: RunningGateway, mode: str
) -> None:
    await _apply(gateway, "host_group", "窓口端末", view_only=True)
    await _apply(gateway, "department", "総務課", clipboard=mode)
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        status, page, _r = await b.get("/view/pc-1")  # the page does not read the terminal's clipboard
        assert status == 200 and f'data-clipboard="{"to_terminal" if mode == "both" else "none"}"' in page
        p = await _pair(b, gateway, s, control)
        assert p.offer["policy"]["view_only"] is True
        assert p.offer["policy"]["clipboard"] == ("to_terminal" if mode == "both" else "none")  # the agent is told
        for _ in range(3):
            await p.viewer.send_bytes(encode(Clipboard("端末の文字")))  # crafted: the page would not send it
        await p.viewer.send_bytes(encode(Refresh()))
        assert decode_from_viewer((await p.agent.receive(timeout=5)).data) == Refresh()  # no clipboard came
        if mode == "both":  # the office PC's clipboard may still come out
            await p.agent.send_bytes(encode(Clipboard("庁内")))
            assert decode_from_agent((await p.viewer.receive(timeout=5)).data) == Clipboard("庁内")
        await p.viewer.close()
    denied = [e for e in await _ended_audit(gateway, "clipboard") if e.outcome == "denied"]
    assert [(_details(e)["reason"], _details(e)["direction"], _details(e)["total"]) for e in denied] == [
        ("view_only", "to_host", 1),
        ("view_only", "to_host", 3),
    ]


async def test_a_flood_of_forbidden_messages_writes_a_few_audit_rows_with_the_count(gateway: RunningGateway) -> None:
    await _apply(gateway, "host_group", "窓口端末", view_only=True)
    flood = 1500
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        for i in range(flood):
            await p.viewer.send_bytes(encode(Clipboard(f"x{i}")))
            await p.viewer.send_bytes(encode(Pointer(i % 100, 5, 0)))
        await p.agent.send_bytes(encode(Clipboard("庁内")))  # forbidden the other way (policy "none")
        await p.viewer.send_bytes(encode(Refresh()))
        assert decode_from_viewer((await p.agent.receive(timeout=20)).data) == Refresh()
        await p.viewer.close()
    clip = await _ended_audit(gateway, "clipboard")
    to_host = [_details(e) for e in clip if _details(e)["direction"] == "to_host"]
    assert len(to_host) == 2 and to_host[0]["count"] == 1 and len(to_host[0]["sha256"]) == 64
    assert to_host[1]["count"] == flood - 1 and to_host[1]["total"] == flood and "sha256" not in to_host[1]
    assert [_details(e)["total"] for e in clip if _details(e)["direction"] == "to_terminal"] == [1]
    dropped = [_details(e) for e in await _audit(gateway, "message_dropped")]
    assert [(d["reason"], d["total"]) for d in dropped] == [("view_only", 1), ("view_only", flood)]


async def test_counted_drops_are_written_every_interval(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drop_audit_module, "SUMMARY_INTERVAL", 0.5)
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        sent = 0
        for _burst in range(4):
            for _ in range(50):
                await p.viewer.send_bytes(encode(Clipboard("機密")))
                sent += 1
            await asyncio.sleep(0.4)
        rows = await _audit(gateway, "clipboard")
        assert len(rows) >= 2  # a count was written while the session goes on
        await p.viewer.close()
    counts = [_details(e) for e in await _ended_audit(gateway, "clipboard")]
    assert len(counts) <= 1 + 4 + 1  # the first, at most one per interval, the rest at the end
    assert sum(c["count"] for c in counts) == sent and counts[-1]["total"] == sent


async def test_idle_timeout_warns_then_ends(gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules_module, "MINUTE", 4.0)  # 1 policy minute = 4 s in this test
    await _apply(gateway, "department", "総務課", idle_minutes=1)
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        warning = decode_from_agent((await p.viewer.receive(timeout=8)).data)
        assert isinstance(warning, Status) and warning.code == StatusCode.WARNING
        assert warning.detail.startswith("idle:")
        ended = decode_from_agent((await p.viewer.receive(timeout=8)).data)
        assert ended == Status(StatusCode.SESSION_ENDED, "idle")


async def test_max_length_ends_even_with_input(gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules_module, "MINUTE", 3.0)
    await _apply(gateway, "department", "総務課", max_minutes=1)
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        loop = asyncio.get_running_loop()
        started = loop.time()
        seen = []
        while loop.time() - started < 8:
            await p.viewer.send_bytes(encode(Pointer(1, 1, 0)))  # busy: not idle
            try:
                msg = await p.viewer.receive(timeout=0.3)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            seen.append(decode_from_agent(msg.data))
        assert Status(StatusCode.SESSION_ENDED, "max_length") in seen


async def test_allowed_hours_refuse_a_new_session(gateway: RunningGateway) -> None:
    now = dt.datetime.now(JST)
    start, end = (now + dt.timedelta(hours=2)).strftime("%H:%M"), (now + dt.timedelta(hours=3)).strftime("%H:%M")
    await _apply(gateway, "department", "総務課", start=start, end=end)
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        status, body = await b.request_session("pc-1")
        assert status == 403 and body["error"] == "hours"
        assert "この時間帯は接続できません" in body["message"] and "所属:総務課" in body["message"]


async def test_second_login_is_refused_by_default(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b1, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b1.login(gateway.staff["alice"])
        first = await _pair(b1, gateway, s, control)
        status, body = await b1.request_session("pc-1")
        assert status == 409 and body["error"] == "in_use"
        assert await _nothing(first.viewer, 0.3)  # the first session goes on


async def test_takeover_ends_the_first_session_with_its_reason(gateway: RunningGateway) -> None:
    await _apply(gateway, "department", "総務課", conflict="takeover")
    async with (
        Browser(gateway, gateway.terminal_ssl()) as b1,
        Browser(gateway, gateway.terminal_ssl("term-2")) as b2,
        aiohttp.ClientSession() as s,
    ):
        control = await _control(gateway, s)
        await b1.login(gateway.staff["alice"])
        first = await _pair(b1, gateway, s, control)
        await b2.login(gateway.staff["alice"], code=_later_code(gateway))
        status, _body = await b2.request_session("pc-1")
        assert status == 201
        assert decode_from_agent((await first.viewer.receive(timeout=5)).data) == Status(
            StatusCode.SESSION_ENDED, "takeover"
        )


def _later_code(gw: RunningGateway) -> str:
    from jiseki.gateway.auth import totp
    from jiseki.gateway.db.models import utcnow

    secret = gw.staff["alice"].totp_secret
    assert secret is not None
    return totp.code_at(secret, utcnow().timestamp() + 30)


async def test_unassigning_ends_a_live_session(gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_run_module, "POLICY_RECHECK", 1.0)
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        engine = make_engine(gateway.db_url())
        try:
            async with sessionmaker(engine).begin() as sess:
                await unassign(sess, "alice", "pc-1")
        finally:
            await engine.dispose()
        ended = decode_from_agent((await p.viewer.receive(timeout=6)).data)
        assert ended == Status(StatusCode.SESSION_ENDED, "policy_change")
