"""The directory synchronisation page in real Chromium (Playwright's async API, in the same event loop
as the real gateway and next to a real slapd): the preview in Japanese, then the run, then the runs
listed. Short: one page, three clicks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.auth import totp
from jiseki.gateway.db.models import User
from tests.directory_server import DirectoryServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

from .conftest import RunningGateway
from .console_support import add_console_users, database
from .test_directory_sync import USERS

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="/usr/bin/chromium is required"),
]


@pytest.fixture
def directory_config(directory: DirectoryServer) -> DirectoryConfig:
    return directory.ad_config(group_dns=(USERS,))


async def test_preview_and_run_in_chromium(gateway: RunningGateway) -> None:
    from playwright.async_api import async_playwright

    await add_console_users(gateway)
    root = gateway.staff["root"]
    assert root.totp_secret is not None
    term = gateway.root / "terminals" / "term-1"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(
                ignore_https_errors=True,
                viewport={"width": 1366, "height": 768},
                client_certificates=[
                    {
                        "origin": gateway.url,
                        "certPath": str(term / "terminal.crt"),
                        "keyPath": str(term / "terminal.key"),
                    }
                ],
            )
            page = await context.new_page()
            await page.goto(gateway.url + "/login")
            await page.fill("#login_id", "root")
            await page.fill("#password", root.password)
            await page.fill("#code", totp.code_at(root.totp_secret, int(time.time())))
            await page.click("button[type=submit]")
            await page.wait_for_url(gateway.url + "/")

            await page.goto(gateway.url + "/admin/staff")
            await page.click("text=ディレクトリと同期")
            await page.wait_for_url(gateway.url + "/admin/directory#sync")
            assert await page.inner_text("#sync-heading") == "ディレクトリとの同期"
            await page.click("text=同期のプレビュー")
            await page.wait_for_selector("#sync-result")
            assert "プレビュー（まだ何も変更していません）" in await page.inner_text("#sync-result")
            assert await page.get_attribute('#sync-counts tr[data-kind="create"] td.num', "data-count") == "4"
            row = await page.inner_text('#sync-rows tr[data-id="suzuki"]')
            assert "作成" in row and "鈴木 一郎" in row and "ヘルプデスク" in row and "税務課" in row
            async with database(gateway) as s:
                assert await s.get(User, "suzuki") is None  # nothing yet
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "directory-sync-preview.png"), full_page=True)

            await page.click("#sync-run-form button[type=submit]")
            await page.wait_for_selector('#sync-result[data-dry-run="false"]')
            assert "同期しました" in await page.inner_text("#sync-result")
            runs = await page.inner_text("#sync-runs")
            assert runs.count("完了") == 2 and "プレビュー" in runs and "管理コンソール（root）" in runs
            async with database(gateway) as s:
                created = set((await s.execute(select(User.id).where(User.source == "directory"))).scalars())
            assert created == {"yamada", "sato", "suzuki", "ito"}
            await context.close()
        finally:
            await browser.close()
