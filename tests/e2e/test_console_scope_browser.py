"""A delegated administrator (所掌範囲) in real Chromium, over a prefecture of 5,000 staff and 5,000
office PCs (tests/org_seed.py) added to the demo stack's database.

The administrator looks after 総務課 only: the staff list counts that department's staff, another
department's account by URL is "not found", a crafted department filter shows no one, and the
navigation has no organisation-wide pages (terminals, enrollment tokens, policies).
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from jiseki.demo.run import DemoStack
from jiseki.gateway.auth import totp

from .conftest import needs_desktop, terminal_context
from .test_console_browser import PASSWORD, VIEWPORT, check_layout, login_as, shot

pytestmark = [pytest.mark.e2e, needs_desktop]

# The demo has its own 情報政策課 (the 14th of org_seed's department names): 13 departments avoid it.
DEPARTMENTS = 13
SCOPED = "e2e-scoped"


@dataclass(frozen=True)
class Prefecture:
    secret: str  # the scoped administrator's authenticator
    in_scope: int  # staff of 総務課, the administrator included
    other_department_id: int  # 人事課
    other_login: str  # a member of 人事課
    other_count: int  # staff of 人事課


@pytest.fixture(scope="module")
def prefecture(stack: DemoStack) -> Prefecture:
    from sqlalchemy import func, select

    from jiseki.gateway.admin import create_user
    from jiseki.gateway.auth.passwords import PasswordPolicy
    from jiseki.gateway.db.engine import make_engine, sessionmaker
    from jiseki.gateway.db.models import User
    from jiseki.gateway.scope import set_scope
    from tests.org_seed import seed_organisation

    async def seed() -> Prefecture:
        url = stack.gateway.effective_database_url
        started = time.perf_counter()
        org = await seed_organisation(url, staff=5000, pcs=5000, departments=DEPARTMENTS, password=PASSWORD)
        print(f"seeded 5,000 staff and PCs in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)
        box = totp.SecretBox(stack.gateway.data_dir / "secrets" / "totp.key")
        try:
            async with sessionmaker(engine).begin() as s:
                await create_user(s, PasswordPolicy(), SCOPED, "所掌 管理者", "総務課", "admin", PASSWORD, "e2e")
                user = await s.get(User, SCOPED)
                assert user is not None
                secret = totp.new_secret()
                user.totp_secret, user.totp_enabled = box.seal(secret), True
                await set_scope(s, SCOPED, [org.department_ids[0]], [])
                await s.flush()
                counts = [
                    int((await s.execute(select(func.count()).where(User.department_id == d))).scalar_one())
                    for d in org.department_ids[:2]
                ]
        finally:
            await engine.dispose()
        return Prefecture(secret, counts[0], org.department_ids[1], org.staff_ids[1], counts[1])

    # Playwright's sync API runs an event loop in this thread: the database work gets its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, seed()).result()


def count_of(page: Any) -> str:
    return page.inner_text("p.count")


def test_a_scoped_administrator_sees_and_reaches_their_department_only(  # type: ignore[no-untyped-def]
    browser, stack: DemoStack, prefecture: Prefecture
) -> None:
    base = stack.base_url
    assert 380 < prefecture.in_scope < 400  # 5,000 staff over 13 departments, and the administrator
    context = terminal_context(browser, stack, viewport=VIEWPORT)
    try:
        page = context.new_page()
        login_as(page, stack, SCOPED, PASSWORD, prefecture.secret)
        page.goto(base + "/admin/staff")
        assert count_of(page).startswith(f"{prefecture.in_scope:,}件中 1–50件")
        departments = {t.strip() for t in page.locator("#staff tbody tr td.department").all_inner_texts()}
        assert departments == {"総務課"}
        # The department filter offers 総務課 only.
        assert page.locator("#department option").all_inner_texts() == ["すべて", "総務課"]
        check_layout(page)
        shot(page, "30-scoped-staff-list-ja")
        # The navigation has no organisation-wide pages.
        nav = page.get_by_role("navigation", name="管理コンソール")
        labels = [t.strip() for t in nav.get_by_role("link").all_inner_texts()]
        assert "職員" in labels and "自席PC" in labels
        for hidden in ("テレワーク端末", "登録トークン", "グループとポリシー"):
            assert hidden not in labels, labels
        # Another department's account by URL: not found, as if it did not exist.
        response = page.goto(base + f"/admin/account/{prefecture.other_login}")
        assert response is not None and response.status == 404
        missing = page.goto(base + "/admin/account/no-such-person")
        assert missing is not None and missing.status == 404
        # A crafted filter for another department: no one.
        page.goto(base + f"/admin/staff?department={prefecture.other_department_id}")
        assert count_of(page) == "該当するものはありません。"
        assert page.locator("#staff tbody tr").count() == 0
        # The organisation-wide pages by URL: no access.
        for path in ("/admin/terminals", "/admin/enrollment"):
            response = page.goto(base + path)
            assert response is not None and response.status == 403, path
        # The dashboard counts the department's staff only.
        page.goto(base + "/admin")
        assert page.get_by_role("link", name=f"{prefecture.in_scope:,}", exact=True).count() == 1
        assert page.locator('dl.figures a[href^="/admin/terminals"]').count() == 0
        shot(page, "31-scoped-dashboard-ja")
        # Their own PCs list is the department's PCs (each staff member has one).
        page.goto(base + "/admin/pcs")
        assert re.match(rf"{prefecture.in_scope - 1:,}件中", count_of(page)), count_of(page)
        # A full administrator adds 人事課 to the scope on the account's page...
        creds = stack.credentials
        assert creds is not None and creds.admin_login_id
        full = terminal_context(browser, stack, viewport=VIEWPORT)
        try:
            admin = full.new_page()
            login_as(admin, stack, creds.admin_login_id, creds.admin_password, creds.admin_totp_secret)
            admin.goto(base + f"/admin/account/{SCOPED}")
            assert "所掌限定" in admin.inner_text("#scope")
            form = admin.locator("#scope-form")
            assert form.get_by_label("総務課", exact=True).is_checked()
            form.get_by_label("人事課", exact=True).check()
            check_layout(admin)
            shot(admin, "32-scope-form-ja")
            form.get_by_role("button", name="所掌範囲を保存").click()
            assert admin.inner_text("[role=status]") == "変更を保存しました。"
            assert "人事課" in admin.inner_text("#scope")
        finally:
            full.close()
        # ...and the delegated administrator's next page has it, without logging in again.
        page.goto(base + "/admin/staff")
        total = prefecture.in_scope + prefecture.other_count
        assert count_of(page).startswith(f"{total:,}件中"), count_of(page)
        response = page.goto(base + f"/admin/account/{prefecture.other_login}")
        assert response is not None and response.status == 200
    finally:
        context.close()
