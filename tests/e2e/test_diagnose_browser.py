"""「接続できない理由を調べる」 in real Chromium, in Japanese, against the demo stack: from the account
page to the findings, then a login ID typed into the form; a locked account shows its unlock button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from jiseki.demo.provision import DEMO_HOST_ID, DEMO_USER
from jiseki.demo.run import DemoStack

from .conftest import needs_desktop, terminal_context
from .test_console_browser import VIEWPORT, check_layout, login_as, query, shot

pytestmark = [pytest.mark.e2e, needs_desktop]


@pytest.fixture(scope="module")
def admin_page(browser, stack: DemoStack) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    creds = stack.credentials
    assert creds is not None and creds.admin_login_id
    context = terminal_context(browser, stack, viewport=VIEWPORT)
    page = context.new_page()
    login_as(page, stack, creds.admin_login_id, creds.admin_password, creds.admin_totp_secret)
    yield page
    context.close()


def test_helpdesk_page_from_the_account_in_japanese(admin_page, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = admin_page
    page.goto(f"{stack.base_url}/admin/account/{DEMO_USER}")
    page.get_by_role("link", name="接続できない理由を調べる").click()
    page.wait_for_url(re.compile(r"/admin/diagnose\?user="))
    assert page.locator("h1").inner_text() == "接続できない理由を調べる"
    online = page.locator(f'#findings tr[data-code=online][data-host="{DEMO_HOST_ID}"]')
    assert online.count() == 1  # the demo's agent holds its control channel on the demo's node
    assert "問題なし" in online.inner_text() and "オンライン" in online.inner_text()
    assert page.locator("#findings th").all_inner_texts()[2] == "対処"
    check_layout(page)
    shot(page, "diagnose-demo")

    # Locked (as the lockout writes it): typed into the form, the finding and the unlock button.
    query(stack, "UPDATE users SET locked_until = '2099-01-01 00:00:00.000000' WHERE id = ?", DEMO_USER)
    try:
        page.goto(f"{stack.base_url}/admin/diagnose")
        page.get_by_label("ログインID").fill(DEMO_USER)
        page.get_by_role("button", name="調べる", exact=True).click()
        locked = page.locator("#findings tr[data-code=locked]")
        assert locked.get_attribute("data-severity") == "blocking"
        assert "接続不可" in locked.inner_text() and "ロックされています" in locked.inner_text()
        assert "接続できない理由が" in page.locator("#diagnose-summary").inner_text()
        locked.get_by_role("button", name="ロック解除").click()
        page.wait_for_url(re.compile(rf"/admin/account/{DEMO_USER}\?done=unlocked"))
        assert query(stack, "SELECT locked_until FROM users WHERE id = ?", DEMO_USER) == [(None,)]
    finally:
        query(stack, "UPDATE users SET locked_until = NULL WHERE id = ?", DEMO_USER)
