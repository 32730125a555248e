"""The helpdesk's 「接続できない理由を調べる」 page: each reason set up for real, read through the page."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import aiohttp
import pytest

from jiseki.config import AuthConfig
from jiseki.config_directory import DirectoryConfig
from jiseki.gateway import diagnosis
from jiseki.gateway.db.models import ClosedDay, Department, DirectoryRun, Host, User, utcnow
from jiseki.gateway.hosts import assign
from jiseki.gateway.policies_db import set_host_group, set_policy
from jiseki.gateway.policy import JST
from jiseki.gateway.scope import set_scope

from .conftest import Browser, RunningGateway, Staff
from .console_support import add_console_user, add_console_users, database, logged_in, post, text_of
from .test_console_flows import _live_session


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(lockout_threshold=3, lockout_seconds=600, address_max_failures=1000)


def findings(page: str) -> dict[str, str]:
    """code -> severity of each finding row (the last one of a code wins)."""
    return dict(
        (code, severity) for code, severity in re.findall(r'<tr data-code="([a-z_]+)" data-severity="([a-z]+)"', page)
    )


def row(page: str, code: str) -> str:
    match = re.search(rf'<tr data-code="{code}".*?</tr>', page, re.S)
    assert match, f"no {code} finding"
    return text_of(match.group(0))


async def diagnose(b: Browser, query: str) -> str:
    status, page, _r = await b.get(f"/admin/diagnose?{query}")
    assert status == 200, page[:500]
    return page


async def test_locked_offline_no_second_factor_and_terminal_expiry(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with Browser(gateway, gateway.terminal_ssl("term-2")) as attacker:
        for _ in range(3):  # the account is locked by failed logins, as a person typing wrongly would
            await attacker.login(Staff("alice", "wrong password!", gateway.staff["alice"].totp_secret))
    hd = await logged_in(gateway, "hd")
    async with hd:
        page = await diagnose(hd, "user=alice")
        found = findings(page)
        assert found["locked"] == "blocking"
        assert "/admin/account/alice/unlock" in page  # the existing unlock action, as a button
        assert found["offline"] == "blocking"  # no agent connected
        assert 'action="/admin/pcs/pc-1/wake"' in page  # h19-wol's power-on
        assert found["second_factor_ok"] == "ok"
        assert "ロック" in row(page, "locked")
        carol = await diagnose(hd, "user=carol")
        assert findings(carol)["no_second_factor"] == "warning"
        assert "locked" not in findings(carol)
        # The helpdesk unlocks from the page; the finding goes.
        status, _body, _loc = await post(hd, "/admin/account/alice/unlock", {})
        assert status == 303
        assert "locked" not in findings(await diagnose(hd, "user=alice"))
    # alice logs in on term-1 (a 30-day certificate): the terminal shows as expiring within 30 days.
    async with await logged_in(gateway, "alice"):
        pass
    aud = await logged_in(gateway, "aud")
    async with aud:
        page = await diagnose(aud, "user=alice")
        assert findings(page)["terminal_expiring"] == "warning"
        assert "/wake" not in page and "/unlock" not in page  # the auditor only reads


async def test_revoked_terminal_disabled_account_and_not_assigned(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "alice"):
        pass  # alice used term-1
    async with Browser(gateway, gateway.terminal_ssl("term-2")) as root:  # not the terminal revoked below
        assert (await root.login(gateway.staff["root"]))[0] == 303
        assert findings(await diagnose(root, "user=alice")).get("terminal_revoked") is None
        status, body, _loc = await post(root, "/admin/terminal/term-1/revoke", {"reason": "紛失"})
        assert status == 303, body[:300]
        status, body, _loc = await post(root, "/admin/account/alice/disable", {})
        assert status == 303, body[:300]
        page = await diagnose(root, "user=alice")
        found = findings(page)
        assert found["terminal_revoked"] == "blocking"
        assert found["disabled"] == "blocking"
        assert "term-1" in row(page, "terminal_revoked")
        other = await diagnose(root, "user=alice&pc=pc-2")
        assert findings(other)["not_assigned"] == "blocking"
        assert "offline" not in findings(other)  # not assigned: the rest is not checked


async def test_hours_policy_and_closed_day_say_when_again(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    now = utcnow().astimezone(JST)
    start = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=3)).strftime("%H:%M")
    async with database(gateway) as s:
        await set_policy(s, "organisation", "", {"start": start, "end": end}, "test")
    hd = await logged_in(gateway, "hd")
    async with hd:
        page = await diagnose(hd, "user=alice&pc=pc-1")
        assert findings(page)["refused"] == "blocking"
        assert start in row(page, "refused")  # the next allowed time
        async with database(gateway) as s:
            await set_policy(s, "organisation", "", {"start": None, "end": None, "on_holidays": False}, "test")
            s.add(ClosedDay(day=now.date().isoformat(), name="県民の日", created_by="test"))
        page = await diagnose(hd, "user=alice&pc=pc-1")
        assert findings(page)["refused"] == "blocking"
        assert "県民の日" in row(page, "refused")


async def test_pc_in_use_by_a_live_session_with_its_node(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with Browser(gateway, gateway.terminal_ssl()) as alice, aiohttp.ClientSession() as s:
        control, viewer, agent, _created = await _live_session(gateway, alice, s)
        try:
            hd = await logged_in(gateway, "hd")
            async with hd:
                for _ in range(50):
                    page = await diagnose(hd, "user=carol&pc=pc-1")  # carol shares pc-1 with alice
                    if "in_use_refused" in findings(page):
                        break
                    await asyncio.sleep(0.1)
                found = findings(page)
                assert found["in_use_refused"] == "blocking"
                assert "alice" in row(page, "in_use_refused")
                assert found["online"] == "ok"
                assert gateway.config.gateway.effective_node_id in row(page, "online")
            # bob shares pc-1 too: My office PCs tells him the same reason, in the staff's words.
            async with database(gateway) as db:
                await assign(db, "bob", "pc-1")
            async with Browser(gateway, gateway.terminal_ssl("term-2")) as bob:
                assert (await bob.login(gateway.staff["bob"]))[0] == 303
                status, portal, _r = await bob.get("/")
                assert status == 200
                reason = re.search(r'<tr data-host="pc-1".*?</tr>', portal, re.S)
                assert reason and "data-reason" in reason.group(0)
                assert "別のセッションで使用中" in text_of(reason.group(0))
            # An administrator's end with a waiting time holds alice back: the page says until when.
            async with await logged_in(gateway, "root") as root:  # hd's one-time code is used up
                end = f"/admin/session/{_created['session']}/end"
                status, _page, _loc = await post(root, end, {"message": "メンテナンス", "hold": "60"})
                assert status == 303
                page = await diagnose(root, "user=alice&pc=pc-1")
                assert findings(page)["held"] == "blocking"
                assert "管理者" in row(page, "held") and "再び接続できます" in row(page, "held")
        finally:
            for ws in (viewer, agent, control):
                await ws.close()


async def test_out_of_scope_is_not_found(gateway: RunningGateway) -> None:
    await add_console_user(gateway, "dhd", "helpdesk", "総務課")
    async with database(gateway) as s:
        finance = Department(name="財政課")
        s.add(finance)
        await s.flush()
        await set_scope(s, "dhd", [finance.id], [])
    dhd = await logged_in(gateway, "dhd")
    async with dhd:
        status, _page, _r = await dhd.get("/admin/diagnose?user=alice")
        assert status == 404
        status, _page, _r = await dhd.get("/admin/diagnose?user=nobody")
        assert status == 404
        status, page, _r = await dhd.get("/admin/diagnose")
        assert status == 200 and 'id="diagnose-form"' in page


async def test_a_delegated_helpdesk_sees_only_the_pcs_in_its_scope(gateway: RunningGateway) -> None:
    """bob (財政課) has pc-2 in a PC group the helpdesk looks after, and pc-1 outside it."""
    await add_console_user(gateway, "ghd", "helpdesk", "総務課")
    async with database(gateway) as s:
        await assign(s, "bob", "pc-1")
        finance = Department(name="財政課")
        s.add(finance)
        await s.flush()
        bob = await s.get(User, "bob")
        assert bob is not None
        bob.department_id = finance.id
        await set_host_group(s, "pc-2", "本庁舎2階")
        await s.flush()
        host = await s.get(Host, "pc-2")
        assert host is not None and host.host_group_id is not None
        await set_scope(s, "ghd", [], [host.host_group_id])
    ghd = await logged_in(gateway, "ghd")
    async with ghd:
        page = await diagnose(ghd, "user=bob")
        assert 'data-host="pc-2"' in page
        assert 'data-host="pc-1"' not in page and "pc-1" not in text_of(page)
        status, _page, _r = await ghd.get("/admin/diagnose?user=bob&pc=pc-1")
        assert status == 404


async def test_a_directory_account_without_directory_sign_in(gateway: RunningGateway) -> None:
    """alice as a directory account: with directory sign-in off (this gateway's [directory]) and no
    break-glass password she cannot log in; with it on, the last failed synchronisation is told."""
    await add_console_users(gateway)
    async with database(gateway) as s:
        alice = await s.get(User, "alice")
        assert alice is not None
        alice.source, alice.local_password = "directory", False
    hd = await logged_in(gateway, "hd")
    async with hd:
        page = await diagnose(hd, "user=alice")
        assert findings(page)["directory_disabled"] == "blocking"
        assert "account_ok" not in findings(page)
    assert gateway.config.directory.enabled is False
    async with database(gateway) as s:
        s.add(DirectoryRun(trigger="schedule", dry_run=False, state="failed", error="no directory server answered"))
        await s.flush()
        alice = await s.get(User, "alice")
        assert alice is not None
        found = await diagnosis.account_findings(s, alice, DirectoryConfig(enabled=True), utcnow())
    assert [(f.code, f.severity, f.params["error"]) for f in found] == [
        ("directory_failed", "warning", "no directory server answered")
    ]
