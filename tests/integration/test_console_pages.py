"""The admin console over real TLS: every page renders for every console role, in both languages."""

from __future__ import annotations

import pytest

from .conftest import Browser, RunningGateway, csrf_of
from .console_support import add_console_users, text_of

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

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
    "/admin/audit?from=2026-12-01&to=2026-12-05&kind=session_end&outcome=denied&actor=x&subject=y",
    "/admin/history",
    "/admin/history?from=2026-12-05&to=2026-12-01&person=a&pc=p&department=1&reason=live&page=2",
    "/admin/recordings?from=2026-12-01&to=2026-12-05&person=a",
    "/admin/reports?from=2026-12-01&to=2026-12-05&by=week&group=department",
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


async def test_hostile_addresses_and_queries_get_answers_not_errors(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        assert (await b.login(gateway.staff["root"]))[0] == 303
        for path, expected in (
            ("/admin/staff?page=abc&q=%25_%5C&role=boss&state=x&sort=;drop", 200),
            ("/admin/staff?page=-5", 200),
            ("/admin/staff?page=99999999999", 200),
            ("/admin/pcs?q=" + "あ" * 500, 200),
            ("/admin/audit?before=abc&kind=nope&actor=" + "x" * 300, 200),
            ("/admin/sessions?page=0&q=%00", 200),
            ("/admin/staff?q=a%00b%1b", 200),
            ("/admin/pcs?q=%00", 200),
            ("/admin/terminals?q=%00", 200),
            ("/admin/audit?actor=%00&subject=%00%7f", 200),
            ("/admin/account/bad%20id", 404),
            ("/admin/account/" + "a" * 200, 404),
            ("/admin/pc/..%2F..%2Fetc", 404),
            ("/admin/terminal/%00", 404),
            ("/admin/session/" + "f" * 100 + "/end", 404),
        ):
            status, page, _r = await b.get(path)
            assert status == expected, (path, status, page[:300])
        status, page, _r = await b.get("/admin/staff?q=%25")  # a literal %, not a wildcard
        assert "該当するものはありません" in page
        status, page, _r = await b.post_form(
            "/admin/staff/import/not-a-staged-id", {"csrf_token": csrf_of((await b.get("/admin"))[1])}
        )
        assert status == 410
