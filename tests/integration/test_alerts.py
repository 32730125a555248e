"""Alerts by mail against a real SMTP server on loopback (STARTTLS, AUTH): a login from a new
terminal, the one-click link that ends a live session and locks the account (once; raced; expired),
the claim that sends an alert once across two nodes, and certificates made to expire."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from jiseki.config import Config
from jiseki.config_mail import MailConfig
from jiseki.gateway import alerts
from jiseki.gateway.alerts import checks, hooks, kinds, links
from jiseki.gateway.certs import record_issued
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import (
    ActionLink,
    AlertChoice,
    AlertSent,
    AuditEvent,
    Certificate,
    Department,
    Host,
    User,
    utcnow,
)
from jiseki.gateway.pki import CertificateAuthority
from jiseki.gateway.scope import set_scope
from jiseki.i18n import JST
from jiseki.protocol import Status, StatusCode, decode_from_agent
from tests.smtp_server import SmtpServer, running_smtp

from .conftest import Browser, RunningGateway, Staff
from .console_support import add_console_user, console_csrf, database, events, logged_in, post, text_of
from .test_console_flows import _live_session

pytestmark = pytest.mark.database
_LINK = re.compile(r"https://jiseki\.pref\.example\.lg\.jp(/act/[A-Za-z0-9_-]+)")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    yield from running_smtp(tmp_path)


@pytest.fixture
def mail_config(smtp: SmtpServer) -> MailConfig:
    return smtp.config


async def _addresses(gw: RunningGateway, **emails: str) -> None:
    async with database(gw) as s:
        for login_id, address in emails.items():
            await s.execute(update(User).where(User.id == login_id).values(email=address))


async def _choose(gw: RunningGateway, login_id: str, *chosen: str) -> None:
    async with database(gw) as s:
        for kind in chosen:
            s.add(AlertChoice(user_id=login_id, kind=kind))


async def _mails(smtp: SmtpServer, count: int) -> list:  # type: ignore[type-arg]
    return await asyncio.to_thread(smtp.inbox.wait, count)


async def test_a_login_from_a_new_terminal_mails_the_person_and_the_admins_once(
    gateway: RunningGateway, smtp: SmtpServer
) -> None:
    await add_console_user(gateway, "hd", "helpdesk", department="総務課")
    await _addresses(gateway, carol="carol@pref.example.lg.jp", hd="hd@pref.example.lg.jp")
    await _choose(gateway, "hd", kinds.NEW_TERMINAL)
    carol = gateway.staff["carol"]  # no one-time code yet: her password opens the code-enrolment step
    async with Browser(gateway, gateway.terminal_ssl("term-1")) as first:
        assert (await first.login(carol))[0] == 303  # her first terminal: no news
    async with Browser(gateway, gateway.terminal_ssl("term-2")) as second:
        assert (await second.login(carol))[0] == 303
        mails = await _mails(smtp, 2)
        assert (await second.login(carol))[0] == 303  # the same terminal again: nothing
    await asyncio.sleep(0.5)
    assert len(smtp.inbox.messages) == 2
    (to_carol,) = smtp.inbox.to("carol@pref.example.lg.jp")
    (to_hd,) = smtp.inbox.to("hd@pref.example.lg.jp")
    assert to_carol["Subject"] == "【jiseki】初めて使う端末からのログイン" == to_hd["Subject"]
    body = to_carol.get_content()
    assert "carolさんが、これまで使っていない端末（term-2）からログインしました。" in body
    assert _LINK.search(body) and "24時間以内" in body
    assert _LINK.search(to_hd.get_content()) is None  # the link is the person's own
    assert all(m["From"] == "jiseki <jiseki@pref.example.lg.jp>" for m in mails)
    (alert,) = [e for e in await events(gateway, "alert") if '"new_terminal"' in (e.details or "")]
    assert alert.subject == "carol" and '"recipients": 2' in (alert.details or "")


async def test_the_one_click_link_ends_the_live_session_and_locks_the_account_once(
    gateway: RunningGateway, smtp: SmtpServer
) -> None:
    await _addresses(gateway, alice="alice@pref.example.lg.jp")
    async with database(gateway) as s:  # alice used term-2 before; term-1 is new to her
        await alerts.record_terminal(s, "alice", "term-2", utcnow())
    async with Browser(gateway, gateway.terminal_ssl()) as alice, aiohttp.ClientSession() as s:
        control, viewer, agent, _created = await _live_session(gateway, alice, s)
        (mail,) = await _mails(smtp, 1)
        match = _LINK.search(mail.get_content())
        assert match is not None
        path = match.group(1)
        # Read on a phone: no terminal certificate.
        async with Browser(gateway, gateway.plain_ssl()) as phone:
            status, page, _r = await phone.get(path)
            assert status == 200 and "この操作を行うと、接続を切断し、アカウントをロックします。" in page
            confirm = re.search(r'name="confirm" value="([0-9a-f]+)"', page)
            assert confirm is not None
            status, page, _r = await phone.post_form(path, {"confirm": "0" * 64})  # not from the page
            assert status == 410
            first, second = await asyncio.gather(
                phone.post_form(path, {"confirm": confirm.group(1)}),
                phone.post_form(path, {"confirm": confirm.group(1)}),
            )
            assert sorted([first[0], second[0]]) == [200, 410]
            done = first[1] if first[0] == 200 else second[1]
            assert "接続を切断し、アカウントをロックしました" in done
            status, page, _r = await phone.get(path)
            assert status == 410 and "このリンクは既に使用されています" in page
        ended = decode_from_agent((await viewer.receive(timeout=5)).data)
        assert isinstance(ended, Status) and ended.code == StatusCode.SESSION_ENDED
        status, _page, _r = await alice.get("/")
        assert status == 303  # her web session ended with the account
        assert (await alice.login(gateway.staff["alice"]))[0] == 401
        for ws in (agent, control):
            await ws.close()
    async with database(gateway) as db:
        user = await db.get(User, "alice")
        assert user is not None and user.disabled
    assert len(await events(gateway, "user_disabled")) == 1
    assert [e.outcome for e in await events(gateway, "action_link")].count("ok") == 1


async def test_an_expired_link_changes_nothing(gateway: RunningGateway) -> None:
    async with database(gateway) as s:
        token = await links.create(s, "bob", links.END_AND_LOCK, dt.timedelta(hours=1))
    async with database(gateway) as s:
        await s.execute(update(ActionLink).where(ActionLink.id == links.digest(token)).values(expires_at=utcnow()))
    async with Browser(gateway, gateway.plain_ssl()) as phone:
        status, page, _r = await phone.get(f"/act/{token}")
        assert status == 410 and "このリンクは有効期限が切れています" in page
        status, page, _r = await phone.post_form(f"/act/{token}", {"confirm": links.form_token(token)})
        assert status == 410
        status, page, _r = await phone.get("/act/" + "x" * 43)
        assert status == 404 and "このリンクは無効です" in page
    async with database(gateway) as db:
        bob = await db.get(User, "bob")
        assert bob is not None and not bob.disabled


def _node(gw: RunningGateway, node_id: str, db: object) -> Any:  # a GatewayState's parts the alerts use
    config: Config = gw.config
    return SimpleNamespace(
        config=config,
        db=db,
        nodes=SimpleNamespace(node_id=node_id),
        ca=CertificateAuthority(config.gateway.data_dir / "pki"),
        audit_head=None,
    )


async def test_two_nodes_claiming_one_alert_send_it_once(gateway: RunningGateway, smtp: SmtpServer) -> None:
    await add_console_user(gateway, "root", "admin")
    await _addresses(gateway, root="root@pref.example.lg.jp")
    await _choose(gateway, "root", kinds.NODE_DOWN)
    engines = [make_engine(gateway.db_url()) for _ in range(2)]
    try:
        a, b = (_node(gateway, f"node-{i}", sessionmaker(e)) for i, e in enumerate(engines))
        alert = alerts.Alert(kinds.NODE_DOWN, {"name": "node-9", "at": utcnow()}, key="node_down:node-9:test")
        sent = await asyncio.gather(*(alerts.send_alert(n, alert) for n in (a, b, a, b)))
    finally:
        for e in engines:
            await e.dispose()
    assert sorted(sent) == [0, 0, 0, 1]
    (mail,) = await _mails(smtp, 1)
    assert mail["Subject"] == "【jiseki】ゲートウェイノードの停止"
    async with database(gateway) as s:
        row = await s.get(AlertSent, "node_down:node-9:test")
        assert row is not None and row.node_id in ("node-0", "node-1")


async def test_certificates_made_to_expire_are_alerted_once_per_threshold(
    gateway: RunningGateway, smtp: SmtpServer
) -> None:
    await add_console_user(gateway, "root", "admin")
    await _addresses(gateway, root="root@pref.example.lg.jp")
    await _choose(gateway, "root", kinds.CERT_EXPIRY)
    ca = CertificateAuthority(gateway.config.gateway.data_dir / "pki")
    issued = ca.issue_client_cert("terminal", "term-short", dt.timedelta(days=6))
    async with database(gateway) as s:
        await record_issued(s, issued.cert, "terminal", "term-short")
    engine = make_engine(gateway.db_url())
    try:
        node = _node(gateway, "node-0", sessionmaker(engine))
        now = utcnow()
        assert await checks.run_once(node, now) >= 1
        assert await checks.run_once(node, now) == 0  # the same threshold: once
        assert await checks.run_once(node, now + dt.timedelta(days=5, hours=12)) >= 1
    finally:
        await engine.dispose()
    mails = [m for m in await _mails(smtp, 2) if "term-short" in m.get_content()]
    assert len(mails) == 2
    assert "7日以内" in mails[0].get_content() and "1日以内" in mails[1].get_content()
    async with database(gateway) as s:
        serial = format(issued.cert.serial_number, "x")
        keys = {k for (k,) in (await s.execute(AlertSent.__table__.select().with_only_columns(AlertSent.key))).all()}
    assert any(k.endswith(":7") and "cert_expiry" in k for k in keys), (serial, keys)


async def test_console_users_set_their_address_and_alerts_and_get_them_only_within_scope(
    gateway: RunningGateway, smtp: SmtpServer
) -> None:
    await add_console_user(gateway, "root", "admin")
    await add_console_user(gateway, "hd", "helpdesk")  # 情報政策課, and her scope is that department only
    async with database(gateway) as s:
        (policy_dept,) = (await s.execute(select(Department.id).where(Department.name == "情報政策課"))).one()
        await set_scope(s, "hd", [policy_dept], [])
    for login_id in ("root", "hd"):
        async with await logged_in(gateway, login_id) as b:
            status, page, _r = await b.get("/admin/alerts")
            assert status == 200 and "通知メール" in page and "テストメール送信" in page
            token = await console_csrf(b, "/admin/alerts")
            bad: Any = [("csrf_token", token), ("email", "not-an-address"), ("kind", "new_terminal")]
            status, page, _r = await b.post_form("/admin/alerts", bad)
            assert status == 400 and "メールアドレスが正しくありません" in text_of(page)
            address = f"{login_id}@pref.example.lg.jp"
            good: Any = [("csrf_token", token), ("email", address), ("kind", "new_terminal"), ("kind", "lockout")]
            status, _page, r = await b.post_form("/admin/alerts", good)
            assert status == 303 and r.headers["Location"].endswith("done=updated")
            status, _page, r = await b.post_form("/admin/alerts/test", {"csrf_token": token})
            assert status == 303 and r.headers["Location"].endswith("done=test_mail_sent")
    tests = await _mails(smtp, 2)
    assert sorted(m["Subject"] for m in tests) == ["【jiseki】テストメール"] * 2
    async with database(gateway) as s:
        chosen = {(c.user_id, c.kind) for c in (await s.execute(select(AlertChoice))).scalars()}
    assert ("hd", "lockout") in chosen and ("root", "new_terminal") in chosen
    # carol (総務課) on a second terminal: root hears of it, hd (outside her scope) does not.
    async with database(gateway) as s:
        await alerts.record_terminal(s, "carol", "term-2", utcnow())
    async with Browser(gateway, gateway.terminal_ssl("term-1")) as b:
        assert (await b.login(gateway.staff["carol"]))[0] == 303
    await _mails(smtp, 3)
    await asyncio.sleep(0.5)
    new = [m for m in smtp.inbox.messages if "初めて使う端末" in m["Subject"]]
    assert [m["X-Envelope-To"] for m in new] == ["root@pref.example.lg.jp"]


async def test_an_administrator_sets_a_staff_address_within_scope_only(gateway: RunningGateway) -> None:
    await add_console_user(gateway, "root", "admin")
    await add_console_user(gateway, "sub", "admin")  # a delegated administrator of 情報政策課 only
    async with database(gateway) as s:
        (policy_dept,) = (await s.execute(select(Department.id).where(Department.name == "情報政策課"))).one()
        await set_scope(s, "sub", [policy_dept], [])
    async with await logged_in(gateway, "root") as root:
        status, page, _loc = await post(root, "/admin/account/alice/email", {"email": "bad address"})
        assert status == 400 and "メールアドレスが正しくありません" in text_of(page)
        status, _page, location = await post(root, "/admin/account/alice/email", {"email": "alice@pref.example.lg.jp"})
        assert status == 303 and location.endswith("done=updated")
        status, page, _r = await root.get("/admin/account/alice")
        assert 'value="alice@pref.example.lg.jp"' in page
    async with await logged_in(gateway, "sub") as sub:  # alice (総務課) is outside sub's scope: not found
        status, _page, _loc = await post(sub, "/admin/account/alice/email", {"email": "x@pref.example.lg.jp"})
        assert status == 404
    async with database(gateway) as s:
        alice = await s.get(User, "alice")
        assert alice is not None and alice.email == "alice@pref.example.lg.jp"


async def test_failures_a_lockout_a_revoked_terminal_and_unusual_hours_are_alerted(
    gateway: RunningGateway, smtp: SmtpServer
) -> None:
    await add_console_user(gateway, "root", "admin")
    await _addresses(gateway, root="root@pref.example.lg.jp", alice="alice@pref.example.lg.jp")
    await _choose(gateway, "root", kinds.LOGIN_FAILURES, kinds.LOCKOUT, kinds.REVOKED_TERMINAL)
    alice = gateway.staff["alice"]
    wrong = Staff(alice.login_id, "Wrong-Password-123", alice.totp_secret)
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        for _ in range(gateway.config.auth.lockout_threshold + 2):  # the last ones hit a locked account
            assert (await b.login(wrong))[0] == 401
    mails = await _mails(smtp, 3)
    subjects = sorted((m["X-Envelope-To"], m["Subject"]) for m in mails)
    assert subjects == [
        ("alice@pref.example.lg.jp", "【jiseki】ログイン失敗によるアカウントのロック"),
        ("root@pref.example.lg.jp", "【jiseki】ログインの連続失敗"),
        ("root@pref.example.lg.jp", "【jiseki】ログイン失敗によるアカウントのロック"),
    ]
    async with database(gateway) as s:  # term-2's certificate revoked: it comes back anyway, twice
        await s.execute(update(Certificate).where(Certificate.owner_id == "term-2").values(revoked_at=utcnow()))
    async with Browser(gateway, gateway.terminal_ssl("term-2")) as b:
        assert (await b.get("/login"))[0] == 403
        assert (await b.get("/login"))[0] == 403
    mails = await _mails(smtp, 4)
    revoked = [m for m in mails if "失効した端末" in m["Subject"]]
    assert len(revoked) == 1 and "term-2" in revoked[0].get_content()
    # A session started inside the configured span (around now, JST).
    now = utcnow().astimezone(JST)
    span = f"{(now - dt.timedelta(hours=1)):%H:%M}-{(now + dt.timedelta(hours=1)):%H:%M}"
    engine = make_engine(gateway.db_url())
    try:
        node = _node(gateway, "node-0", sessionmaker(engine))
        node.config = replace(node.config, mail=replace(node.config.mail, unusual_hours=span))
        hooks.session_started(node, "alice", "pc-1", "session-x")
        await alerts.drain()
    finally:
        await engine.dispose()
    mails = await _mails(smtp, 5)
    (late,) = [m for m in mails if "時間外" in m["Subject"]]
    assert late["X-Envelope-To"] == "alice@pref.example.lg.jp" and _LINK.search(late.get_content())
    await asyncio.sleep(0.3)
    assert len(smtp.inbox.messages) == 5  # each alert once: no second lockout mail, no second refusal mail


async def test_an_office_pc_offline_for_days_and_a_broken_audit_chain_are_alerted_once(
    gateway: RunningGateway, smtp: SmtpServer
) -> None:
    await add_console_user(gateway, "root", "admin")
    await _addresses(gateway, root="root@pref.example.lg.jp")
    await _choose(gateway, "root", kinds.PC_OFFLINE, kinds.AUDIT_CHAIN)
    days = gateway.config.mail.pc_offline_days
    async with database(gateway) as s:
        await s.execute(
            update(Host).where(Host.id == "pc-2").values(online=False, last_seen=utcnow() - dt.timedelta(days=days + 1))
        )
    engine = make_engine(gateway.db_url())
    try:
        node = _node(gateway, "node-0", sessionmaker(engine))
        assert await checks.run_once(node) == 1
        assert await checks.run_once(node) == 0
        async with database(gateway) as s:  # someone edits a sealed record in the database
            (first,) = (await s.execute(select(AuditEvent).where(AuditEvent.seq.is_not(None)).limit(1))).scalars()
            first.details = '{"edited": true}'
        assert await checks.run_once(node) == 1
        assert await checks.run_once(node) == 0
    finally:
        await engine.dispose()
    chain, offline = sorted(await _mails(smtp, 2), key=lambda m: m["Subject"])
    assert offline["Subject"] == "【jiseki】職場PCの長期オフライン" and "PC pc-2" in offline.get_content()
    assert chain["Subject"] == "【jiseki】監査ログのハッシュチェーンの破損"
