"""Bulk actions in real Chromium with a prefecture's 5,000 staff (tests/org_seed.py) in the demo stack:
200 leavers found by a search are disabled in one action (preview count checked, then applied, then
the database and the audit trail checked), and the header box ticks a page's rows. The list's
timings at 5,000 rows are printed (docs/admin-guide.md quotes them)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jiseki.demo.run import DemoStack

from ..org_seed import seed_organisation
from .conftest import needs_desktop
from .test_console_browser import admin, check_layout, query, shot  # noqa: F401 - `admin` is a fixture

pytestmark = [pytest.mark.e2e, needs_desktop]

LEAVERS = "退職予定（3月末）"
STAFF = 5000


@pytest.fixture(scope="module")
def organisation(stack: DemoStack) -> None:
    """5,000 staff in 13 departments (none named like the demo's), the last 200 in LEAVERS."""

    async def seed() -> None:
        await seed_organisation(
            stack.gateway.effective_database_url, staff=STAFF, pcs=STAFF, departments=13, password="x" * 16
        )

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, seed()).result()
    import sqlite3

    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        db.execute("INSERT INTO departments (name, created_at) VALUES (?, CURRENT_TIMESTAMP)", (LEAVERS,))
        db.execute(
            "UPDATE users SET department_id = (SELECT id FROM departments WHERE name = ?) WHERE id BETWEEN ? AND ?",
            (LEAVERS, f"s{STAFF - 199:05d}", f"s{STAFF:05d}"),
        )


def _timed(page: Any, url: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    return time.perf_counter() - start


def test_bulk_disable_of_200_leavers_among_5000(admin: Any, stack: DemoStack, organisation: None) -> None:  # noqa: F811
    base = stack.base_url
    page = admin.new_page()
    timings = {
        "staff list, 5,000 rows, あいうえお order": _timed(page, base + "/admin/staff"),
        "staff list, last page": _timed(page, base + "/admin/staff?page=101"),
        "PC list, 5,000 rows": _timed(page, base + "/admin/pcs"),
    }
    page.goto(base + "/admin/staff")
    assert "5,00" in page.inner_text("p.count")  # 5,000 seeded and the demo's own accounts
    timings["staff list, search for the leavers"] = _timed(page, base + "/admin/staff?q=" + LEAVERS)
    assert page.inner_text("p.count").startswith("200件")
    check_layout(page)
    shot(page, "20-bulk-staff-list-ja")

    page.get_by_label("検索条件に一致する200件すべて").check()
    page.get_by_label("操作", exact=True).select_option("disable")
    start = time.perf_counter()
    page.get_by_role("button", name="確認…").click()
    page.wait_for_selector("#bulk-effect")
    timings["preview of 200"] = time.perf_counter() - start
    assert page.get_attribute("#bulk-effect", "data-count") == "200"
    assert "200件のアカウントを無効にします" in page.inner_text("#bulk-effect")
    assert page.locator("#bulk-rows tbody tr").count() == 200
    assert query(stack, "SELECT count(*) FROM users WHERE disabled") == [(0,)]  # nothing before confirming
    check_layout(page)
    shot(page, "21-bulk-preview-ja")

    start = time.perf_counter()
    page.get_by_role("button", name="200件に実行する").click()
    page.wait_for_selector("#bulk-result")
    timings["apply to 200"] = time.perf_counter() - start
    assert page.get_attribute("#bulk-result", "data-changed") == "200"
    shot(page, "22-bulk-done-ja")
    leavers = "(SELECT id FROM departments WHERE name = ?)"
    assert query(stack, "SELECT count(*) FROM users WHERE disabled") == [(200,)]
    assert query(stack, f"SELECT count(*) FROM users WHERE disabled AND department_id = {leavers}", LEAVERS) == [(200,)]
    assert query(stack, "SELECT count(*) FROM audit_events WHERE kind = 'user_disabled'") == [(200,)]
    [(details,)] = query(stack, "SELECT details FROM audit_events WHERE kind = 'bulk_action'")
    assert '"count": 200' in details and '"action": "staff_disable"' in details

    # The header's box ticks the page's rows; the preview lists those ticked.
    page.goto(base + "/admin/staff?q=s0010&sort=id")
    assert page.locator("#staff tbody tr").count() == 10
    page.get_by_label("このページの行をすべてチェック").check()
    assert page.locator("#staff tbody input[name=id]:checked").count() == 10
    page.get_by_label("操作", exact=True).select_option("enable")
    page.get_by_role("button", name="確認…").click()
    assert page.get_attribute("#bulk-effect", "data-count") == "10"
    page.close()
    print("\n".join(f"{name}: {seconds:.2f} s" for name, seconds in timings.items()))
    assert timings["staff list, 5,000 rows, あいうえお order"] < 5
