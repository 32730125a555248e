"""The manuals' screenshots from the real pages, then the manuals as PDFs (build/manual/*.pdf).

One browser; one context per role (a new staff member's first login, the demo staff member, the
administrator), all at 1366x768 and in Japanese. The screenshots go to build/manual/shots/ and are
never committed, so they show the pages as they are today. Then each docs/manuals/*.ja.md becomes an
A4 PDF printed by Chromium; the test checks that every image a manual shows was produced here and that
the page count is sane. scripts/build-manuals.sh runs this module.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jiseki.demo.provision import DEMO_HOST_ID
from jiseki.demo.run import DemoStack
from jiseki.gateway.auth import totp

from . import manual_build
from .conftest import needs_desktop, terminal_context
from .test_console_browser import login_as
from .test_viewer import wait_for, wait_until_rest

pytestmark = [pytest.mark.e2e, needs_desktop]

VIEWPORT = {"width": 1366, "height": 768}
NEWCOMER = "manual-k0001"
NEW_PASSWORD = "Sakura-Tsutsuji-2026"
TAKEN: set[str] = set()


def shot(target: Any, name: str, *, full_page: bool = False) -> None:
    """A page (or one element of it) as build/manual/shots/<name>.png."""
    manual_build.SHOTS.mkdir(parents=True, exist_ok=True)
    path = str(manual_build.SHOTS / f"{name}.png")
    if hasattr(target, "goto"):
        target.screenshot(path=path, full_page=full_page)
    else:
        target.screenshot(path=path)
    TAKEN.add(f"shots/{name}.png")


@pytest.fixture(scope="module", autouse=True)
def fresh_shots() -> None:
    """Old screenshots must not pass for new ones."""
    if manual_build.SHOTS.exists():
        for old in manual_build.SHOTS.glob("*.png"):
            old.unlink()


@pytest.fixture(scope="module")
def temporary_password(stack: DemoStack) -> str:
    """A newly registered staff member with the temporary password the console hands out."""
    from jiseki.gateway.admin import create_user
    from jiseki.gateway.auth.passwords import PasswordPolicy
    from jiseki.gateway.db.engine import make_engine, sessionmaker

    async def add() -> str:
        engine = make_engine(stack.gateway.effective_database_url)
        try:
            async with sessionmaker(engine).begin() as s:
                made = await create_user(s, PasswordPolicy(), NEWCOMER, "県庁 花子", "総務課", "staff", None, "e2e")
        finally:
            await engine.dispose()
        assert made is not None
        return made

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs an event loop in this thread
        return pool.submit(asyncio.run, add()).result()


@pytest.fixture(scope="module")
def terminal(browser, stack: DemoStack) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = terminal_context(browser, stack, viewport=VIEWPORT, locale="ja-JP")
    yield context
    context.close()


def test_first_login_screens(terminal, stack: DemoStack, temporary_password: str) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    page = terminal.new_page()
    page.goto(base + "/login")
    assert page.inner_text("h1") == "ログイン"
    shot(page, "login")
    page.fill("#login_id", NEWCOMER)
    page.fill("#password", "not-the-password")
    page.click("main form button[type=submit]")
    assert page.locator("p.error").count() == 1
    shot(page, "login-error")
    # The first login: ID and temporary password, no code; then the authenticator app, then a password.
    page.fill("#login_id", NEWCOMER)
    page.fill("#password", temporary_password)
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/login/totp")
    shot(page, "totp-setup", full_page=True)
    secret = page.inner_text("#secret").replace(" ", "")
    page.fill("#code", totp.code_at(secret, time.time()))
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.url == base + "/password", (page.url, page.inner_text("main"))
    shot(page, "password-change", full_page=True)
    page.fill("#current", temporary_password)
    page.fill("#new", NEW_PASSWORD)
    page.fill("#repeat", NEW_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/")
    page.close()
    terminal.clear_cookies()


def test_portal_and_viewer_screens(terminal, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    creds = stack.credentials
    assert creds is not None
    page = terminal.new_page()
    login_as(page, stack, creds.login_id, creds.password, creds.totp_secret)
    page.locator(f'a.button[href="/view/{DEMO_HOST_ID}"]').wait_for()
    shot(page, "portal")
    page.click(f'a.button[href="/view/{DEMO_HOST_ID}"]')
    wait_for(page, "window.jisekiStats && window.jisekiStats.state === 'connected'")
    wait_for(page, "window.jisekiStats.framesDrawn > 0")
    wait_until_rest(page)
    shot(page, "viewer")
    shot(page.locator("header.bar"), "toolbar")
    page.click("#disconnect")
    page.locator("#reconnect").wait_for(state="visible")
    shot(page, "disconnected")
    page.close()
    terminal.clear_cookies()


def test_console_screens(terminal, stack: DemoStack, temporary_password: str) -> None:  # type: ignore[no-untyped-def]
    creds = stack.credentials
    assert creds is not None and creds.admin_login_id
    base = stack.base_url
    page = terminal.new_page()
    login_as(page, stack, creds.admin_login_id, creds.admin_password, creds.admin_totp_secret)
    for name, path, heading in (
        ("console-dashboard", "/admin", "ダッシュボード"),
        ("console-staff", "/admin/staff", None),
        ("console-account", f"/admin/account/{NEWCOMER}", None),
        ("console-terminals", "/admin/terminals", None),
        ("console-pcs", "/admin/pcs", None),
        ("console-pc", f"/admin/pc/{DEMO_HOST_ID}", None),
        ("console-sessions", "/admin/sessions", None),
        ("console-policies", "/admin/policies", None),
        ("console-audit", "/admin/audit", None),
        ("console-reports", "/admin/reports", None),
    ):
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        if heading is not None:
            assert page.inner_text("h1") == heading
        shot(page, name)
    page.close()


def test_manuals_build_as_pdf(browser) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    issued = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).strftime("%Y年%-m月%-d日 版")
    for manual in manual_build.MANUALS:
        text = manual_build.source_of(manual).read_text("utf-8")
        wanted = manual_build.referenced_images(text)
        assert wanted, manual.name
        missing = sorted(set(wanted) - TAKEN)
        assert missing == [], f"{manual.name} shows screenshots this module did not take: {missing}"
        pdf = manual_build.build_pdf(browser, manual, issued)
        reader = PdfReader(pdf)
        assert 8 <= len(reader.pages) <= 80, (manual.name, len(reader.pages))
        text_of = manual_build.pdf_text(pdf)
        assert manual_build.flat(manual.title) in text_of[0] and manual.audience in text_of[0], text_of[0][:200]
        assert "目次" in text_of[1], text_of[1][:200]
        # Every chapter and section is printed, in order, and the contents give its page.
        found = manual_build.headings(text)
        located = manual_build.heading_pages(found, text_of)
        assert [a for a, _, _ in found] == list(located), sorted({a for a, _, _ in found} - set(located))
        numbers = list(located.values())
        assert numbers == sorted(numbers) and numbers[0] >= 3, numbers
        last_heading = manual_build.flat(found[-1][1])
        assert f"{last_heading}{numbers[-1]}" in text_of[1], text_of[1][-300:]
