"""The console's directory parts (issue 18): /admin/directory (settings, connection test) and, on an
account's page, where the account signs in with and its break-glass password switch."""

from __future__ import annotations

import asyncio
import json

import pytest

from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.db.models import User
from tests.conftest import free_port
from tests.directory_server import SERVICE_PASSWORD, DirectoryServer

from .conftest import RunningGateway
from .console_support import add_console_users, console_csrf, database, events, logged_in, post, text_of
from .test_login_directory import add_directory_user

pytestmark = pytest.mark.database

DEAD = f"ldaps://127.0.0.1:{free_port()}"


@pytest.fixture
def directory_config(directory: DirectoryServer) -> DirectoryConfig:
    return directory.ad_config(directory.url_ldaps, DEAD)


async def test_settings_and_connection_test(gateway: RunningGateway, directory: DirectoryServer) -> None:
    await add_console_users(gateway)
    b = await logged_in(gateway, "root")
    async with b:
        status, page, _r = await b.get("/admin/directory")
        assert status == 200, page[:300]
        assert SERVICE_PASSWORD not in page and "********" in page
        assert "サービスアカウント" in text_of(page) and directory.url_ldaps in page
        status, page, _r = await post(b, "/admin/directory/test", {})
        assert status == 200, page[:300]
    rows = text_of(page.split('id="directory-checks"', 1)[1].split("</table>", 1)[0])
    assert "検証済み" in rows and "受付" in rows and "正常" in rows
    assert "応答がありません" in rows  # the dead second server
    (tested,) = await events(gateway, "directory_tested")
    assert (tested.outcome, json.loads(tested.details or "{}")) == ("error", {"servers": 2, "passed": 1})


async def test_only_full_administrators(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    for login_id in ("hd", "aud"):
        async with await logged_in(gateway, login_id) as b:
            status, _page, _r = await b.get("/admin/directory")
            assert status == 403
            status, _page, _r = await b.post_form("/admin/directory/test", {"csrf_token": "x"})
            assert status == 403
            status, page, _r = await b.get("/admin")
            assert "/admin/directory" not in page
    assert await events(gateway, "directory_tested") == []


async def test_account_source_and_break_glass_switch(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await add_directory_user(gateway, "yamada")
    async with await logged_in(gateway, "root") as b:
        status, page, _r = await b.get("/admin/account/yamada")
        assert "庁内ディレクトリ" in text_of(page.split('id="source"', 1)[1].split("</dd>", 1)[0])
        status, _page, location = await post(b, "/admin/account/yamada/local-password", {"allowed": "1"})
        assert (status, location) == (303, "/admin/account/yamada?done=updated")
        status, _page, location = await post(b, "/admin/account/yamada/local-password", {"allowed": "1"})
        assert location.endswith("done=unchanged")
        status, page, _r = await post(b, "/admin/account/hd/local-password", {"allowed": "1"})  # a local account
        assert status == 400 and "庁内ディレクトリのアカウントにだけ" in page
        status, page, _r = await b.get("/admin/account/hd")
        assert "この装置" in text_of(page.split('id="source"', 1)[1].split("</dd>", 1)[0])
    async with await logged_in(gateway, "hd") as b:  # the helpdesk may reset passwords, not this
        status, _page, _r = await post(b, "/admin/account/yamada/local-password", {"allowed": "0"}, token="x")
        assert status == 403
    async with database(gateway) as s:
        user = await s.get(User, "yamada")
        assert user is not None and user.local_password
    (changed,) = await events(gateway, "user_local_password")
    assert (changed.actor, changed.subject) == ("root", "yamada")


async def test_parallel_switches_change_and_audit_once(gateway: RunningGateway) -> None:
    """The switch is one conditional UPDATE: of parallel identical requests one changes (and is audited)."""
    await add_console_users(gateway)
    await add_directory_user(gateway, "yamada")  # switch off
    n = 4
    async with await logged_in(gateway, "root") as b:  # one console, several requests at once
        token = await console_csrf(b)
        answers = await asyncio.gather(
            *(post(b, "/admin/account/yamada/local-password", {"allowed": "1"}, token) for _ in range(n))
        )
    assert sorted(location.rsplit("=", 1)[1] for _s, _p, location in answers) == ["unchanged"] * (n - 1) + ["updated"]
    assert len(await events(gateway, "user_local_password")) == 1
