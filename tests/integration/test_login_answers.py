"""What a failed login tells the person at the terminal, the audit trail and the helpdesk (issue 12,
items 16 and 19): one answer for every refusal, the real reason in the trail and the console, and no
typed secret kept when the login ID matches no account."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from sqlalchemy import select

from jiseki.config import AuthConfig
from jiseki.gateway import admin
from jiseki.gateway.audit.export import write_csv, write_jsonl
from jiseki.gateway.audit.store import records_between
from jiseki.gateway.audit.syslog import format_rfc5424
from jiseki.gateway.auth import passwords
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, User

from .conftest import PASSWORD, Browser, RunningGateway, Staff, current_code
from .console_support import add_console_users, database, logged_in, text_of

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

THRESHOLD = 3


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(lockout_threshold=THRESHOLD, lockout_seconds=600, address_max_failures=1000)


def _comparable(page: str, login_id: str) -> str:
    """The login page without what differs by design (its CSRF token, the ID typed, echoed back)."""
    page = re.sub(r'name="csrf_token" value="[^"]+"', "", page)
    return page.replace(f'value="{login_id}"', 'value=""')


async def _logins(gw: RunningGateway) -> list[AuditEvent]:
    async with database(gw) as s:
        query = select(AuditEvent).where(AuditEvent.kind == "login").order_by(AuditEvent.id)
        return list((await s.execute(query)).scalars())


async def _user(gw: RunningGateway, login_id: str) -> User:
    async with database(gw) as s:
        user = await s.get(User, login_id)
        assert user is not None
        return user


async def test_locked_disabled_unknown_and_wrong_get_one_answer(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = gateway.staff["alice"], gateway.staff["bob"]
    async with database(gateway) as s:
        await admin.set_disabled(s, "bob", True, "test")
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        for _ in range(THRESHOLD):  # lock alice
            await b.login(Staff("alice", "Wrong-Password-99", alice.totp_secret))
        locked = await _user(gateway, "alice")
        assert locked.locked_until is not None

        checks: list[str] = []
        real = passwords.verify_password

        def counting(stored_hash: str, password: str) -> bool:
            checks.append(password)
            return real(stored_hash, password)

        monkeypatch.setattr(passwords, "verify_password", counting)
        attempts = [
            Staff("nobody", PASSWORD, None),  # no such account
            Staff("carol", "Wrong-Password-99", None),  # wrong password
            bob,  # disabled, right password and code
            alice,  # locked, right password and code
            Staff("alice", "Wrong-Password-99", alice.totp_secret),  # locked, wrong password
        ]
        answers = []
        for who in attempts:
            code = current_code(who.totp_secret) if who.totp_secret else "123456"
            status, page, _r = await b.login(who, code=code)
            answers.append((status, _comparable(page, who.login_id)))
    assert len(checks) == len(attempts)  # argon2 ran for every one of them: the same time too
    assert {status for status, _page in answers} == {401}
    assert len({page for _status, page in answers}) == 1, "the pages differ"
    assert "正しくありません" in answers[0][1] and "ロック" not in answers[0][1] and "無効" not in answers[0][1]
    after = await _user(gateway, "alice")  # attempts on a locked account neither count nor extend
    assert (after.locked_until, after.failed_logins) == (locked.locked_until, locked.failed_logins)
    reasons = [(e.actor, json.loads(e.details or "{}").get("reason")) for e in await _logins(gateway)]
    assert reasons[-4:] == [("carol", "wrong_password"), ("bob", "disabled"), ("alice", "locked"), ("alice", "locked")]


async def test_the_helpdesk_sees_the_real_reason(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    alice, bob = gateway.staff["alice"], gateway.staff["bob"]
    async with database(gateway) as s:
        await admin.set_disabled(s, "bob", True, "test")
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        await b.login(Staff("alice", "Wrong-Password-99", alice.totp_secret))
        await b.login(alice, code="000000" if current_code(alice.totp_secret or "") != "000000" else "111111")
        await b.login(Staff("alice", "Wrong-Password-99", alice.totp_secret))  # the 3rd failure locks
        await b.login(alice)  # right, but locked
        await b.login(bob)  # right, but disabled
    async with await logged_in(gateway, "hd") as hd:
        status, page, _r = await hd.get("/admin/account/alice")
        assert status == 200
        text = text_of(page)
        assert "までロック中" in text
        section = page.split('id="failed-logins-heading"')[1].split("</section>")[0]
        assert re.findall(r'data-reason="(\w+)"', section) == [
            "locked",
            "wrong_password",
            "wrong_code",
            "wrong_password",
        ]
        failed = text_of(section)
        assert "ロック中のアカウント" in failed and "ワンタイムパスワードの誤り" in failed
        assert "この失敗でロック" in failed  # the 3rd failure
        assert "term-1" in failed and "127.0.0.1" in failed
        status, page, _r = await hd.get("/admin/account/bob?lang=en")
        text = text_of(page.split('id="failed-logins-heading"')[1].split("</section>")[0])
        assert "The account is disabled" in text
        status, page, _r = await hd.get("/admin/account/carol?lang=ja")
        assert "ログインの失敗はありません" in text_of(page)


async def test_unknown_login_ids_are_kept_as_keyed_hashes(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="jiseki")  # our own logs (a library's SQL debug log shows every parameter)
    typed = "Tabi-no-Sora-2026-x"  # a password typed into the ID field
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        for login_id in (typed, typed, "nobody", "not an id!", "alice"):
            await b.login(Staff(login_id, "Wrong-Password-99", None), code="")
    actors = [e.actor for e in await _logins(gateway)]
    assert actors[-1] == "alice"  # a known ID stays as it is
    first, second, nobody, invalid = actors[-5:-1]
    assert first == second and first != nobody and nobody != invalid
    assert all(re.fullmatch(r"unknown:[0-9a-f]{16}", a or "") for a in (first, nobody, invalid))
    # Nowhere: not in the database, the log, the syslog messages or the exports.
    async with database(gateway) as s:
        rows = (await s.execute(select(AuditEvent))).scalars().all()
    assert not any(typed in str([r.actor, r.subject, r.details]) for r in rows)
    assert typed not in caplog.text and "nobody" not in caplog.text
    engine = make_engine(gateway.db_url())
    try:
        records = [r async for r in records_between(sessionmaker(engine), None, None)]
    finally:
        await engine.dispose()
    csv_out, jsonl_out = io.StringIO(), io.StringIO()
    write_csv(records, csv_out)
    write_jsonl(records, jsonl_out)
    syslog = b"".join(format_rfc5424(r, "gw") for r in records).decode()
    for text in (csv_out.getvalue(), jsonl_out.getvalue(), syslog):
        assert first in text and typed not in text


@pytest.mark.parametrize("auth_config", [AuthConfig(lockout_threshold=10, address_max_failures=3)])
async def test_a_disabled_account_counts_against_the_address_like_a_wrong_password(gateway: RunningGateway) -> None:
    """Otherwise the address throttle would be the oracle: a right password for a disabled account
    would not bring the 429 nearer."""
    async with database(gateway) as s:
        await admin.set_disabled(s, "bob", True, "test")
    bob = gateway.staff["bob"]
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        for who in (Staff("carol", "Wrong-Password-99", None), bob, bob):
            assert (await b.login(who))[0] == 401
        assert (await b.login(Staff("carol", "Wrong-Password-99", None)))[0] == 429
