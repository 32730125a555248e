"""The admin console over real TLS: every page renders for every console role, in both languages."""

from __future__ import annotations

import pytest

from .conftest import Browser, RunningGateway
from .console_support import add_console_users, text_of

PAGES = [
    "/admin",
    "/admin?fragment=1",
    "/admin/staff",
    "/admin/staff?q=ali&role=staff&state=no_totp&sort=name&page=3",
    "/admin/staff/new",
    "/admin/staff/import",
    "/admin/account/alice",
    "/admin/terminals",
    "/admin/terminals/new",
    "/admin/terminal/term-1",
    "/admin/pcs",
    "/admin/pcs?state=offline&q=pc",
    "/admin/pc/pc-1",
    "/admin/enrollment",
    "/admin/assignments/import",
    "/admin/sessions",
    "/admin/sessions?fragment=1",
    "/admin/audit",
    "/admin/audit?kind=login&outcome=ok&before=1000",
]


@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_every_console_page_renders_for_the_administrator(gateway: RunningGateway, lang: str) -> None:
    await add_console_users(gateway)
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        assert (await b.login(gateway.staff["root"]))[0] == 303
        for path in PAGES:
            sep = "&" if "?" in path else "?"
            status, html, _r = await b.get(f"{path}{sep}lang={lang}")
            assert status == 200, (path, html[:2000])
            assert f'<html lang="{lang}">' in html or "fragment" in path, path
        status, html, _r = await b.get("/admin?lang=ja")
        assert "ダッシュボード" in html and "監査ログ" in html
        status, html, _r = await b.get("/admin/staff?lang=en")
        assert "Staff" in text_of(html) and "alice" in html
