"""Only registered terminals, only enrolled PCs, only the right staff (real TLS, real gateway)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import ssl
import threading
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from jiseki.config import AuthConfig, GatewayConfig
from jiseki.gateway import admin, enrollment
from jiseki.gateway.auth import totp
from jiseki.gateway.certs import record_issued
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, Host, Terminal, User, utcnow
from jiseki.gateway.hosts import revoke_host
from jiseki.gateway.pki import client_ssl_context, fingerprint
from jiseki.gateway.terminals import _upsert, revoke_terminal
from tests.conftest import expired_client_cert

from .conftest import Browser, RunningGateway, csrf_of, current_code, issue_other_ca_cert

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too


async def _db(gw: RunningGateway):  # type: ignore[no-untyped-def]
    engine = make_engine(gw.db_url())
    return engine, sessionmaker(engine)


async def _events(gw: RunningGateway, kind: str) -> list[AuditEvent]:
    engine, db = await _db(gw)
    try:
        async with db() as s:
            return list((await s.execute(select(AuditEvent).where(AuditEvent.kind == kind))).scalars())
    finally:
        await engine.dispose()


# ---- devices --------------------------------------------------------------------------------


async def test_browser_without_certificate_sees_not_registered_and_is_recorded(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.plain_ssl()) as b:
        status, page, _r = await b.get("/login")
        assert status == 403 and "この端末は登録されていません" in page and "<form" not in page
        status, page, _r = await b.get("/?lang=en")
        assert status == 403 and "This device is not registered" in page
        status, _page, _r = await b.get("/static/app/viewer.js")
        assert status == 403
    events = await _events(gateway, "device_refused")
    assert any(json.loads(e.details or "{}").get("reason") == "no_certificate" for e in events)


async def test_certificate_of_another_ca_is_refused_at_tls(gateway: RunningGateway, tmp_path: Path) -> None:
    rogue = issue_other_ca_cert(tmp_path, "terminal", "term-1")
    ctx = client_ssl_context(gateway.ca.root_cert_path, rogue / "client.crt", rogue / "client.key")
    async with Browser(gateway, ctx) as b:
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, OSError)):
            await b.get("/login")


async def test_revoked_and_expired_terminals_are_refused(gateway: RunningGateway, tmp_path: Path) -> None:
    engine, db = await _db(gateway)
    try:
        # A registered terminal whose certificate has expired.
        out = tmp_path / "terminals" / "term-3"
        crt, key, cert = expired_client_cert(gateway.ca, out, "terminal", "term-3")
        crt.rename(out / "terminal.crt")
        key.rename(out / "terminal.key")
        async with db.begin() as s:
            await _upsert(s, "term-3", "Old terminal", fingerprint(cert))
            await s.flush()
            await record_issued(s, cert, "terminal", "term-3")
        async with Browser(gateway, gateway.terminal_ssl("term-2")) as b:
            assert (await b.get("/login"))[0] == 200  # registered: the login page
        async with db.begin() as s:
            assert await revoke_terminal(s, "term-2", "lost")
        await asyncio.sleep(2.5)  # the certificate cache holds a status for up to 2 s
        for terminal, reason in (("term-2", "revoked"), ("term-3", "expired")):
            async with Browser(gateway, gateway.terminal_ssl(terminal)) as b:
                status, page, _r = await b.get("/login")
                assert status == 403 and "この端末は登録されていません" in page, terminal
            reasons = [json.loads(e.details or "{}").get("reason") for e in await _events(gateway, "device_refused")]
            assert reason in reasons
        async with db() as s:
            term = await s.get(Terminal, "term-1")
            assert (term is not None and term.last_seen_at is None) or term.last_seen_address in (None, "127.0.0.1")
    finally:
        await engine.dispose()


async def test_terminal_last_seen_is_recorded(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        await b.get("/login")
    engine, db = await _db(gateway)
    try:
        async with db() as s:
            term = await s.get(Terminal, "term-1")
        assert term is not None and term.last_seen_at is not None and term.last_seen_address == "127.0.0.1"
    finally:
        await engine.dispose()


async def test_staff_network_allow_list(tmp_path: Path) -> None:
    from jiseki.config import Config
    from jiseki.gateway.server import serve
    from tests.conftest import free_port

    from .conftest import provision

    gw = GatewayConfig(port=free_port(), data_dir=tmp_path / "gw", staff_networks=("10.0.0.0/8",))
    config = Config(gateway=gw)
    await provision(config, tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop))
    await asyncio.sleep(1.0)
    try:
        ctx = client_ssl_context(
            gw.data_dir / "pki" / "root-ca.crt",
            tmp_path / "terminals/term-1/terminal.crt",
            tmp_path / "terminals/term-1/terminal.key",
        )
        async with aiohttp.ClientSession() as s:
            async with s.get(f"https://127.0.0.1:{gw.port}/login", ssl=ctx) as r:
                assert r.status == 403  # 127.0.0.1 is not in 10.0.0.0/8
            agent = client_ssl_context(
                tmp_path / "agents/pc-1/ca.crt", tmp_path / "agents/pc-1/agent.crt", tmp_path / "agents/pc-1/agent.key"
            )
            ws = await s.ws_connect(f"https://127.0.0.1:{gw.port}/agent/control", ssl=agent)  # agents: no list
            await ws.close()
    finally:
        stop.set()
        await task


# ---- login ----------------------------------------------------------------------------------


async def test_login_success_sets_strict_cookie(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, _page, r = await b.login(gateway.staff["alice"])
        assert status == 303 and r.headers["Location"] == "/"
        cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and v.startswith("jiseki_session="))
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
        status, page, _r = await b.get("/")
        assert status == 200 and "PC pc-1" in page and "PC pc-2" not in page
        assert (await b.get("/login"))[2].headers["Location"] == "/"  # already logged in


def _session_cookie(b: Browser) -> str:
    return next(c.value for c in b.http.cookie_jar if c.key == "jiseki_session")


def _next_code(gw: RunningGateway, login_id: str) -> str:
    secret = gw.staff[login_id].totp_secret
    assert secret is not None
    return totp.code_at(secret, utcnow().timestamp() + 30)  # the next step: not yet used


async def test_wrong_password_wrong_code_and_replay_are_refused(gateway: RunningGateway) -> None:
    alice = gateway.staff["alice"]
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, page, _r = await b.login(type(alice)("alice", "Wrong-Password-99", alice.totp_secret))
        assert status == 401 and "正しくありません" in page
        for hostile in ("ali\x00ce", "alice\x1b"):  # PostgreSQL cannot even compare a NUL
            status, page, _r = await b.login(type(alice)(hostile, alice.password, alice.totp_secret))
            assert status == 401 and "正しくありません" in page
        status, page, _r = await b.login(
            alice, code="000000" if current_code(alice.totp_secret or "") != "000000" else "111111"
        )
        assert status == 401
        code = current_code(alice.totp_secret or "")
        assert (await b.login(alice, code=code))[0] == 303
    async with Browser(gateway, gateway.terminal_ssl()) as other:
        status, _page, _r = await other.login(alice, code=code)  # the same code again: a replay
        assert status == 401
    reasons = [json.loads(e.details or "{}").get("reason") for e in await _events(gateway, "login")]
    assert {"wrong_password", "wrong_code", "totp_replay"} <= set(reasons)


@pytest.mark.parametrize("gateway_options", [{"database_pool_size": 1, "database_max_overflow": 0}])
async def test_password_checks_leave_the_event_loop_serving(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 costs ~0.2 s of CPU: run on the event loop it would stall every session the node relays,
    and run while holding a database connection, a rush of logins would take the whole pool.

    The check below holds each verification until another request (which needs the database) has
    been answered meanwhile; the gateway has a single pooled connection. Were the check on the event
    loop, or holding that connection, the request could not be answered and the wait would time out.
    """
    from jiseki.gateway.auth import passwords

    real = passwords.verify_password
    started, answered = threading.Event(), threading.Event()
    served_meanwhile: list[bool] = []

    def verify_while_serving(stored_hash: str, password: str) -> bool:
        started.set()
        served_meanwhile.append(answered.wait(10))
        started.clear()
        answered.clear()
        return real(stored_hash, password)

    monkeypatch.setattr(passwords, "verify_password", verify_while_serving)
    alice = gateway.staff["alice"]

    async def other_request() -> None:
        async with Browser(gateway, gateway.terminal_ssl("term-2")) as other:
            assert await asyncio.to_thread(started.wait, 10)
            assert (await other.get("/login"))[0] == 200  # asked while the password is being checked
            answered.set()

    async with Browser(gateway, gateway.terminal_ssl()) as b:
        for who in (type(alice)("nobody", "x", None), alice):  # unknown ID (dummy hash) and a real one
            helper = asyncio.create_task(other_request())
            status = (await b.login(who))[0]
            helper.cancel()
            assert status == (401 if who.login_id == "nobody" else 303)
    assert served_meanwhile == [True, True]


async def test_lockout_after_failures_then_clears_by_time_and_by_admin(gateway: RunningGateway) -> None:
    alice = gateway.staff["alice"]
    wrong = type(alice)("alice", "Wrong-Password-99", alice.totp_secret)
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        for _ in range(2):
            assert (await b.login(wrong))[0] == 401
        status, page, _r = await b.login(wrong)  # the 3rd failure locks (threshold 3 in this test)
        assert status == 401 and "ロック" not in page  # the answer of any wrong password
        status, _page, _r = await b.login(alice)  # right credentials, still locked
        assert status == 401
        await asyncio.sleep(8.5)  # lockout_seconds = 8 in this test
        assert (await b.login(alice))[0] == 303
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        for _ in range(3):
            await b.login(wrong)
        assert (await b.login(alice, code=_next_code(gateway, "alice")))[0] == 401
        engine, db = await _db(gateway)
        try:
            async with db.begin() as s:
                await admin.unlock_user(s, "alice", "helpdesk-1")
        finally:
            await engine.dispose()
        assert (await b.login(alice, code=_next_code(gateway, "alice")))[0] == 303


async def test_first_login_enrolls_totp_with_qr(gateway: RunningGateway) -> None:
    carol = gateway.staff["carol"]
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, _page, r = await b.login(carol, code="")
        assert status == 303 and r.headers["Location"] == "/login/totp"
        before = _session_cookie(b)
        assert (await b.get("/"))[2].headers["Location"] == "/login/totp"  # nothing else until enrolled
        status, page, _r = await b.get("/login/totp")
        assert status == 200 and 'src="data:image/svg+xml;base64,' in page
        secret = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', page)
        assert secret is not None
        key = secret.group(1).replace(" ", "")
        status, page, _r = await b.post_form("/login/totp", {"csrf_token": csrf_of(page), "code": "123456"})
        assert status == 400 or totp.code_at(key, utcnow().timestamp()) == "123456"
        status, _page, r = await b.post_form(
            "/login/totp", {"csrf_token": csrf_of(page), "code": totp.code_at(key, utcnow().timestamp())}
        )
        assert status == 303
        assert _session_cookie(b) != before  # a new session id once fully logged in
        status, page, _r = await b.get("/")
        assert status == 200 and "PC pc-1" in page


async def test_password_page_lists_the_rules_before_typing(gateway: RunningGateway) -> None:
    """Issue 12 item 25: the policy's rules are on the page before the first attempt (and stay
    there after a refusal), in the reader's language, tied to the new-password field."""
    alice = gateway.staff["alice"]
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        await b.login(alice)
        status, page, _r = await b.get("/password")
        assert status == 200 and 'class="error"' not in page
        rules = re.search(r'<ul id="password-rules"[^>]*>(.*?)</ul>', page, re.S)
        assert rules is not None, "no rules on the password page"
        items = re.findall(r"<li>(.*?)</li>", rules.group(1))
        assert items == [
            "12文字以上",
            "英小文字・英大文字・数字・記号のうち3種類以上",
            "推測されやすいパスワード（よく使われるもの）でないこと",
            "ログインIDを含まないこと",
            "現在のパスワードと異なること",
        ]
        assert 'aria-describedby="password-rules"' in page
        status, page, _r = await b.get("/password?lang=en")
        assert "At least 12 characters" in page and "Not containing your login ID" in page
        form = {"csrf_token": csrf_of(page), "current": alice.password, "new": "short", "repeat": "short"}
        status, page, _r = await b.post_form("/password", form)
        assert status == 400 and 'id="password-rules"' in page


async def test_password_change_applies_policy(gateway: RunningGateway) -> None:
    alice = gateway.staff["alice"]
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        await b.login(alice)
        status, page, _r = await b.get("/password")
        form = {"csrf_token": csrf_of(page), "current": alice.password, "new": "password123", "repeat": "password123"}
        status, page, _r = await b.post_form("/password", form)
        assert status == 400 and "推測されやすい" in page and "12文字以上" in page
        form.update(new="Another-Long-Passphrase-8", repeat="Another-Long-Passphrase-8")
        status, _page, _r = await b.post_form("/password", form)
        assert status == 303
        assert (await b.get("/"))[0] == 200  # this browser stays logged in with a new session


async def test_viewer_choices_are_kept_per_terminal(gateway: RunningGateway) -> None:
    """Issue 12 item 25: the zoom and the layout told about belong to the terminal (its certificate),
    are checked, and come back with the viewer page; another terminal has its own."""
    async with (
        Browser(gateway, gateway.terminal_ssl()) as alice,
        Browser(gateway, gateway.terminal_ssl("term-2")) as bob,
    ):
        await alice.login(gateway.staff["alice"])
        await bob.login(gateway.staff["bob"])

        async def post(b: Browser, body: object, origin: str | None = None) -> int:
            headers = {"Origin": origin or gateway.url, "X-CSRF-Token": await b.csrf()}
            async with b.http.post(gateway.url + "/api/terminal/view", json=body, ssl=b.ssl, headers=headers) as r:
                return r.status

        for bad in ({"zoom": "300"}, {"zoom": 100}, {"layout_told": "x" * 65}, {"layout_told": "日本"}, {}, [1],
                    {"zoom": "100", "other": 1}):  # fmt: skip
            assert await post(alice, bad) == 400, bad
        assert await post(alice, {"zoom": "100"}, origin="https://elsewhere.example") == 403
        assert await post(alice, {"zoom": "125", "layout_told": "jp106/jp"}) == 200
        status, page, _r = await alice.get("/view/pc-1")
        assert status == 200 and 'data-zoom="125"' in page and 'data-layout-told="jp106/jp"' in page
        status, page, _r = await bob.get("/view/pc-2")
        assert status == 200 and 'data-zoom="fit"' in page and 'data-layout-told=""' in page
        engine, db = await _db(gateway)
        try:
            async with db() as s:
                row = await s.get(Terminal, "term-2")
                assert row is not None and row.view_zoom is None
        finally:
            await engine.dispose()
        assert await post(alice, {"layout_told": ""}) == 200
        status, page, _r = await alice.get("/view/pc-1")
        assert 'data-zoom="125"' in page and 'data-layout-told=""' in page


# ---- assignments ----------------------------------------------------------------------------


async def test_staff_reach_only_their_own_pc(gateway: RunningGateway) -> None:
    async with (
        Browser(gateway, gateway.terminal_ssl()) as alice,
        Browser(gateway, gateway.terminal_ssl("term-2")) as bob,
    ):
        await alice.login(gateway.staff["alice"])
        await bob.login(gateway.staff["bob"])
        assert (await alice.get("/view/pc-2"))[0] == 404  # bob's PC: looks like it does not exist
        assert (await alice.get("/view/pc-1"))[0] == 200
        status, body = await alice.request_session("pc-2")
        assert status == 404 and body["error"] == "unknown_host"
        # A ticket is bound to its user and terminal: bob cannot use alice's.
        async with aiohttp.ClientSession() as s:
            control = await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl())
            await control.send_str(json.dumps({"type": "hello"}))
            await asyncio.sleep(0.2)
            status, created = await alice.request_session("pc-1")
            assert status == 201
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await bob.viewer_socket(created)
            assert err.value.status == 403
            await control.close()
    denied = await _events(gateway, "session_request")
    assert any(e.outcome == "denied" and e.actor == "alice" and e.subject == "pc-2" for e in denied)


async def test_ticket_expires_in_seconds(gateway: RunningGateway) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        control = await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl())
        await control.send_str(json.dumps({"type": "hello"}))
        await asyncio.sleep(0.2)
        await b.login(gateway.staff["alice"])
        status, created = await b.request_session("pc-1")
        assert status == 201
        await asyncio.sleep(gateway.config.auth.ticket_seconds + 0.5)
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await b.viewer_socket(created)
        await control.close()


@pytest.fixture
def auth_config() -> AuthConfig:
    # A lockout long enough that a slow, loaded machine still sees it, short enough to wait for.
    return AuthConfig(lockout_threshold=3, lockout_seconds=8, address_max_failures=1000, ticket_seconds=2)


# ---- CSRF and logout ------------------------------------------------------------------------


async def test_form_posts_need_the_csrf_token(gateway: RunningGateway) -> None:
    alice = gateway.staff["alice"]
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, _page, _r = await b.post_form(
            "/login", {"login_id": "alice", "password": alice.password, "code": current_code(alice.totp_secret or "")}
        )
        assert status == 403
        await b.login(alice)
        assert (await b.post_form("/logout/all", {}))[0] == 403
        assert (await b.post_form("/logout/all", {"csrf_token": "forged"}))[0] == 403
        status, _page, _r = await b.post_form("/logout/all", {"csrf_token": await b.csrf()})
        assert status == 303
        assert (await b.get("/"))[2].headers["Location"] == "/login"


# ---- agent enrollment -----------------------------------------------------------------------


async def _token(gw: RunningGateway, host_id: str, hours: float = 1.0) -> str:
    engine, db = await _db(gw)
    try:
        async with db.begin() as s:
            return await enrollment.create(
                s, gw.ca.root_fingerprint, host_id, f"PC {host_id}", dt.timedelta(hours=hours), "admin", utcnow()
            )
    finally:
        await engine.dispose()


def _enroll(gw: RunningGateway, token: str, out: Path) -> str:
    from jiseki.agent.enroll import enroll

    return enroll(gw.url, token, out)


async def test_agent_enrollment_happy_path_then_reuse(gateway: RunningGateway, tmp_path: Path) -> None:
    from jiseki.agent.enroll import EnrollFailed

    token = await _token(gateway, "pc-new")
    out = tmp_path / "enrolled"
    host_id = await asyncio.to_thread(_enroll, gateway, token, out)
    assert host_id == "pc-new"
    assert oct((out / "agent.key").stat().st_mode & 0o777) == "0o600"
    ctx = client_ssl_context(out / "ca.crt", out / "agent.crt", out / "agent.key")
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(gateway.url + "/agent/control", ssl=ctx)
        await ws.send_str(json.dumps({"type": "hello"}))
        await ws.close()
    with pytest.raises(EnrollFailed, match="already used"):
        await asyncio.to_thread(_enroll, gateway, token, tmp_path / "again")
    engine, db = await _db(gateway)
    try:
        async with db() as s:
            assert await s.get(Host, "pc-new") is not None
    finally:
        await engine.dispose()


async def test_expired_forged_and_mispinned_tokens_are_refused(gateway: RunningGateway, tmp_path: Path) -> None:
    from jiseki.agent.enroll import EnrollFailed

    expired = await _token(gateway, "pc-x", hours=-1)
    with pytest.raises(EnrollFailed, match="expired"):
        await asyncio.to_thread(_enroll, gateway, expired, tmp_path / "a")
    forged, _id = enrollment.make_token(gateway.ca.root_fingerprint)  # right pin, secret the gateway never issued
    with pytest.raises(EnrollFailed, match="not known"):
        await asyncio.to_thread(_enroll, gateway, forged, tmp_path / "b")
    wrong_pin, _id = enrollment.make_token("00" * 32)
    with pytest.raises(EnrollFailed, match="does not match the token"):
        await asyncio.to_thread(_enroll, gateway, wrong_pin, tmp_path / "c")
    with pytest.raises(EnrollFailed, match="not a jiseki enrollment token"):
        await asyncio.to_thread(_enroll, gateway, "hello", tmp_path / "d")
    assert not (tmp_path / "c").exists()  # nothing written after a wrong pin


async def test_revoked_agent_is_disconnected_within_seconds(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl())
        await ws.send_str(json.dumps({"type": "hello"}))
        await asyncio.sleep(0.3)
        engine, db = await _db(gateway)
        try:
            async with db.begin() as sess:
                assert await revoke_host(sess, "pc-1", "stolen")
        finally:
            await engine.dispose()
        msg = await ws.receive(timeout=6)  # the watcher polls every 2 s
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await s.ws_connect(gateway.url + "/agent/control", ssl=gateway.agent_ssl())


async def test_users_csv_import_reports_bad_rows(gateway: RunningGateway) -> None:
    from jiseki.gateway.auth.users_csv import decode_csv, parse_staff_csv

    data = "ログインID,氏名,所属,権限\nk001,山田 太郎,総務課,職員\nbad id!,x,総務課,staff\nk002,,総務課,staff\n"
    data += "alice,Alice again,総務課,staff\nk003,佐藤 花子,財政課,監査担当者\nk001,dup,総務課,staff\n"
    rows, errors = parse_staff_csv(decode_csv(data.encode("cp932")))
    engine, db = await _db(gateway)
    try:
        async with db.begin() as s:
            result = await admin.import_users(s, rows, errors, "admin")
        assert [u for u, _p in result.created] == ["k001", "k003"]
        lines = sorted(e.line for e in result.errors)
        assert lines == [3, 4, 5, 7]
        async with db() as s:
            k003 = await s.get(User, "k003")
            assert k003 is not None and k003.role == "auditor" and k003.must_change_password
    finally:
        await engine.dispose()
