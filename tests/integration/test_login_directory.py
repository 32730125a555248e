"""Staff sign in with their directory password through the real gateway (issue 18): a real slapd
(tests/directory_server.py), the first server over LDAPS, the second over StartTLS."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import update

from jiseki.config import AuthConfig
from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.auth import accounts
from jiseki.gateway.db.models import AuditEvent, User
from tests.directory_server import PASSWORD as DIRECTORY_PASSWORD
from tests.directory_server import DirectoryServer

from .conftest import PASSWORD, Browser, RunningGateway, Staff, current_code
from .console_support import add_console_user, database, events
from .test_races import _parallel_logins, gated

pytestmark = pytest.mark.database

WRONG_ANSWER = "正しくありません"
UNAVAILABLE_ANSWER = "認証サーバーに接続できません"


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(lockout_threshold=3, lockout_seconds=600, address_max_failures=1000)


@pytest.fixture
def directory_config(directory_pair: tuple[DirectoryServer, DirectoryServer]) -> DirectoryConfig:
    first, second = directory_pair
    return first.ad_config(first.url_ldaps, second.url_ldap, start_tls=True, local_password="allowed")


async def add_directory_user(gw: RunningGateway, login_id: str, local_password: bool = False) -> Staff:
    """A directory account as the synchronisation makes it (with an authenticator app set up); its
    password here is PASSWORD, usable only as the break-glass password."""
    await add_console_user(gw, login_id, "staff", "総務課")
    async with database(gw) as s:
        await s.execute(
            update(User).where(User.id == login_id).values(source="directory", local_password=local_password)
        )
    staff = gw.staff[login_id]
    return replace(staff, password=DIRECTORY_PASSWORD)


async def _user(gw: RunningGateway, login_id: str) -> User:
    async with database(gw) as s:
        user = await s.get(User, login_id)
        assert user is not None
        return user


def _details(event: AuditEvent) -> dict[str, object]:
    return dict(json.loads(event.details or "{}"))


def _message(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page).replace('value="', 'value="x')


async def test_directory_password_logs_in_and_wrong_ones_count(gateway: RunningGateway) -> None:
    yamada = await add_directory_user(gateway, "yamada")
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, page, _r = await b.login(yamada)
        assert status == 303, page[:400]
        status, page, _r = await b.login(replace(yamada, password=PASSWORD))  # the password here: not for him
        assert (status, WRONG_ANSWER in page) == (401, True)
        for _ in range(2):  # with the one above: the threshold (3)
            status, page, _r = await b.login(replace(yamada, password="Wrong-Password-1"))
            assert status == 401
    locked = await _user(gateway, "yamada")
    assert locked.locked_until is not None
    logins = await events(gateway, "login")
    assert _details(logins[0]) == {"result": "ok", "reason": "", "factor": "totp", "via": "directory"}
    assert [(_details(e)["result"], _details(e)["reason"]) for e in logins[1:]] == [
        ("bad_credentials", "wrong_password"),
        ("bad_credentials", "wrong_password"),
        ("locked", "wrong_password"),
    ]
    async with Browser(gateway, gateway.terminal_ssl()) as b:  # locked here: the right password is refused too
        status, _page, _r = await b.login(yamada)
        assert status == 401


async def test_refused_by_the_directory_looks_like_a_wrong_password(gateway: RunningGateway) -> None:
    people = {login_id: await add_directory_user(gateway, login_id) for login_id in ("takahashi", "tanaka", "ito")}
    wrong = await add_directory_user(gateway, "yamada")
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        _s, reference, _r = await b.login(replace(wrong, password="Wrong-Password-1"))
        for who in people.values():
            status, page, _r = await b.login(who)
            assert status == 401
            assert _message(page).replace(who.login_id, "") == _message(reference).replace("yamada", "")
    reasons = {e.actor: _details(e)["reason"] for e in await events(gateway, "login")}
    assert reasons == {
        "yamada": "wrong_password",
        "takahashi": "directory_disabled",
        "tanaka": "directory_expired",
        "ito": "directory_locked",
    }
    assert (await _user(gateway, "takahashi")).failed_logins == 1  # counted like a wrong password


async def test_failover_then_all_down_then_break_glass(
    gateway: RunningGateway, directory_pair: tuple[DirectoryServer, DirectoryServer]
) -> None:
    first, second = directory_pair
    yamada = await add_directory_user(gateway, "yamada")
    sato = await add_directory_user(gateway, "sato", local_password=True)
    first.stop()
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, page, _r = await b.login(yamada)  # the second server, over StartTLS
        assert status == 303, page[:400]
        second.stop()
        for _ in range(4):  # more than the threshold: nothing counts while no server answers
            status, page, _r = await b.login(yamada)
            assert (status, UNAVAILABLE_ANSWER in page) == (503, True)
        status, page, _r = await b.login(replace(yamada, password=PASSWORD))  # no break-glass for him
        assert status == 503
        status, page, _r = await b.login(replace(sato, password=PASSWORD))  # break-glass
        assert status == 303, page[:400]
        status, page, _r = await b.login(sato)  # his directory password cannot be checked
        assert status == 503
    assert (await _user(gateway, "yamada")).failed_logins == 0
    logins = await events(gateway, "login")
    assert _details(logins[-2]) == {"result": "ok", "reason": "", "factor": "totp", "via": "local_password"}
    assert _details(logins[-1])["reason"] == "directory_unavailable"


@pytest.mark.parametrize("directory_config", [DirectoryConfig()], ids=["directory-off"])
async def test_directory_accounts_without_a_directory(gateway: RunningGateway) -> None:
    """Directory turned off: a directory account's password here is not a login (not even break-glass)."""
    yamada = await add_directory_user(gateway, "yamada", local_password=True)
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, _page, _r = await b.login(replace(yamada, password=PASSWORD))
        assert status == 401


async def test_one_code_logs_in_once_among_parallel_directory_logins(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The atomic acceptance holds for directory passwords too (its condition is the row's source)."""
    yamada = await add_directory_user(gateway, "yamada")
    n = 4
    monkeypatch.setattr(accounts, "check_password", gated(accounts.check_password, n))
    statuses = await _parallel_logins(gateway, yamada, current_code(yamada.totp_secret or ""), n)
    assert sorted(statuses) == [303] + [401] * (n - 1), statuses
    reasons = sorted(_details(e)["reason"] for e in await events(gateway, "login"))
    assert reasons == ["", *["totp_replay"] * (n - 1)]


async def test_break_glass_switched_off_between_check_and_write(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The administrator turns the local password off after it was checked: the login must not go on."""
    sato = await add_directory_user(gateway, "sato", local_password=True)
    real = accounts._accept

    async def switch_off() -> None:
        async with database(gateway) as s:
            await s.execute(update(User).where(User.id == "sato").values(local_password=False))

    async def switched_off_first(*args: Any, **kwargs: Any) -> bool:
        await asyncio.create_task(switch_off())  # after the login's reads, before its write (another task)
        return await real(*args, **kwargs)

    monkeypatch.setattr(accounts, "_accept", switched_off_first)
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, _page, _r = await b.login(replace(sato, password=PASSWORD))
    assert status == 401
    (login,) = await events(gateway, "login")
    assert (login.outcome, _details(login)["reason"]) == ("denied", "password_changed")


async def test_a_directory_password_is_not_changed_here(gateway: RunningGateway) -> None:
    yamada = await add_directory_user(gateway, "yamada")
    before = (await _user(gateway, "yamada")).password_hash
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, page, _r = await b.login(yamada)
        assert status == 303, page[:400]
        status, page, _r = await b.get("/password")
        assert (status, "Windowsのパソコンで変更してください" in page) == (409, True)
        fields = {"current": DIRECTORY_PASSWORD, "new": "Another-Pass-123", "repeat": "Another-Pass-123"}
        status, _page, _r = await b.post_form("/password", {"csrf_token": await b.csrf(), **fields})
        assert status == 409
    assert (await _user(gateway, "yamada")).password_hash == before
