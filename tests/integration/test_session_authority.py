"""A live remote session ends when the authority behind it ends: logout, a password change, the
web session's expiry, an account changed by any process (the CLI included). Final ends and
refusals tell the viewer why and, where known, when connecting is allowed again."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update

from jiseki.gateway import authority
from jiseki.gateway.db.models import Session, WebSession
from jiseki.gateway.policy import JST
from jiseki.i18n import format_jst
from jiseki.protocol import Pointer, Status, StatusCode, decode_from_agent, decode_from_viewer, encode

from .conftest import PASSWORD, Browser, RunningGateway, csrf_of
from .console_support import database
from .test_policy import _apply, _control, _later_code, _pair

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too


async def _ended(viewer: aiohttp.ClientWebSocketResponse, within: float = 6.0) -> Status:
    """The viewer's SESSION_ENDED (skipping anything relayed before it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        message = await viewer.receive(timeout=max(0.1, deadline - loop.time()))
        assert message.type == aiohttp.WSMsgType.BINARY, message
        decoded = decode_from_agent(message.data)
        if isinstance(decoded, Status) and decoded.code == StatusCode.SESSION_ENDED:
            return decoded


async def _input_is_cut(viewer: aiohttp.ClientWebSocketResponse, agent: aiohttp.ClientWebSocketResponse) -> None:
    """Pointer input from the old viewer no longer reaches the office PC."""
    try:
        await viewer.send_bytes(encode(Pointer(7, 7, 1)))
    except (ConnectionError, RuntimeError):
        pass
    while True:  # the agent's socket closes; nothing but the release of held input may come before
        message = await agent.receive(timeout=5)
        if message.type != aiohttp.WSMsgType.BINARY:
            break
        assert decode_from_viewer(message.data) != Pointer(7, 7, 1)


async def _session_row(gw: RunningGateway, session_id: str) -> Session:
    for _ in range(50):
        async with database(gw) as s:
            row = await s.get(Session, session_id)
            assert row is not None
            if row.state == "ended":
                return row
        await asyncio.sleep(0.1)
    raise AssertionError("the session did not end")


async def test_logout_ends_the_live_session_of_that_terminal(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        status, _page, _r = await b.post_form("/logout", {"csrf_token": await b.csrf()})
        assert status == 303
        assert await _ended(p.viewer, within=3) == Status(StatusCode.SESSION_ENDED, "logged_out")
        await _input_is_cut(p.viewer, p.agent)
        assert (await _session_row(gateway, p.offer["session"])).end_reason == "logged_out"


async def test_password_change_in_another_browser_ends_the_session(gateway: RunningGateway) -> None:
    async with (
        Browser(gateway, gateway.terminal_ssl()) as a,
        Browser(gateway, gateway.terminal_ssl("term-2")) as other,
        aiohttp.ClientSession() as s,
    ):
        control = await _control(gateway, s)
        await a.login(gateway.staff["alice"])
        p = await _pair(a, gateway, s, control)
        await other.login(gateway.staff["alice"], _later_code(gateway))  # the first code is spent
        _status, page, _r = await other.get("/password")
        new = "Another-Horse-8-Battery"
        status, _page, _r = await other.post_form(
            "/password", {"csrf_token": csrf_of(page), "current": PASSWORD, "new": new, "repeat": new}
        )
        assert status == 303
        assert await _ended(p.viewer, within=3) == Status(StatusCode.SESSION_ENDED, "password_changed")
        await _input_is_cut(p.viewer, p.agent)


@pytest.mark.parametrize("expiry", ["absolute", "idle"])
async def test_expiry_of_the_login_ends_the_session(gateway: RunningGateway, expiry: str) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=gateway.config.auth.session_idle_seconds + 5)
        async with database(gateway) as db:
            column = WebSession.expires_at if expiry == "absolute" else WebSession.last_seen_at
            await db.execute(update(WebSession).where(WebSession.user_id == "alice").values({column: past}))
        # Within one check interval (2 s), whatever the viewer sends: input never revives an expired login.
        await p.viewer.send_bytes(encode(Pointer(1, 1, 0)))
        assert await _ended(p.viewer, within=authority.CHECK_INTERVAL + 3) == Status(
            StatusCode.SESSION_ENDED, "login_expired"
        )
        await _input_is_cut(p.viewer, p.agent)


async def test_input_in_the_remote_session_keeps_the_login_alive(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(authority, "TOUCH_INTERVAL", dt.timedelta(0))
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        idle = gateway.config.auth.session_idle_seconds
        almost = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=idle - 4)  # expires in 4 s without input
        async with database(gateway) as db:
            await db.execute(update(WebSession).where(WebSession.user_id == "alice").values(last_seen_at=almost))
        for _ in range(8):  # the staff member works in the remote desktop for 8 s, never touching the portal
            await p.viewer.send_bytes(encode(Pointer(3, 3, 0)))
            assert decode_from_viewer((await p.agent.receive(timeout=5)).data) == Pointer(3, 3, 0)
            await asyncio.sleep(1)
        async with database(gateway) as db:
            seen = (await db.execute(select(WebSession.last_seen_at).where(WebSession.user_id == "alice"))).scalar_one()
        assert seen > almost + dt.timedelta(seconds=4)
        status, _page, _r = await b.get("/")
        assert status == 200  # still logged in


def _cli(gw: RunningGateway, *args: str) -> None:
    config = gw.root / "cli.toml"
    config.write_text(
        f'[gateway]\ndata_dir = "{gw.config.gateway.data_dir}"\ndatabase_url = "{gw.config.gateway.database_url}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "jiseki", "admin", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("command", "reason"),
    [("disable", "account_disabled"), ("reset-password", "login_required"), ("reset-totp", "login_required")],
)
async def test_account_changes_from_the_cli_end_live_sessions(
    gateway: RunningGateway, command: str, reason: str
) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await _control(gateway, s)
        await b.login(gateway.staff["alice"])
        p = await _pair(b, gateway, s, control)
        await asyncio.to_thread(_cli, gateway, command, "alice")  # another process, no signal to this node
        assert await _ended(p.viewer, within=authority.CHECK_INTERVAL + 3) == Status(StatusCode.SESSION_ENDED, reason)
        await _input_is_cut(p.viewer, p.agent)


async def test_refusals_say_until_when_and_my_pcs_shows_them(gateway: RunningGateway) -> None:
    now = dt.datetime.now(JST)
    start = (now + dt.timedelta(hours=2)).strftime("%H:00")
    end = (now + dt.timedelta(hours=3)).strftime("%H:00")
    await _apply(gateway, "department", "総務課", start=start, end=end)
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        await b.login(gateway.staff["alice"])
        status, body = await b.request_session("pc-1")
        assert status == 403 and body["error"] == "hours" and body["allowed"] is False
        until = dt.datetime.fromisoformat(body["until"]).astimezone(JST)
        assert until.strftime("%H:%M") == start and dt.timedelta(0) < until - now <= dt.timedelta(hours=2)
        assert format_jst(until) in body["message"] and "から再び接続できます" in body["message"]
        async with b.http.get(gateway.url + "/api/hosts/pc-1/access", ssl=b.ssl) as r:
            access = await r.json()
        assert access["allowed"] is False and access["until"] == body["until"]
        status, page, _r = await b.get("/")
        assert "現在は接続できません" in page and 'href="/view/pc-1"' not in page
        await _apply(gateway, "department", "総務課", start=None, end=None)
        async with b.http.get(gateway.url + "/api/hosts/pc-1/access", ssl=b.ssl) as r:
            assert await r.json() == {"allowed": True}
        status, page, _r = await b.get("/")
        assert 'href="/view/pc-1"' in page and "現在は接続できません" not in page
        async with b.http.get(gateway.url + "/api/hosts/pc-2/access", ssl=b.ssl) as r:
            assert r.status == 404  # not assigned to alice: nothing said about it
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(gateway.url + "/api/hosts/pc-1/access", ssl=gateway.terminal_ssl()) as r:
            assert r.status == 401
