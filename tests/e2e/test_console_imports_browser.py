"""April transfers in real Chromium: a prefecture of 5,000 staff (tests/org_seed.py) in the demo stack,
a CSV of 1,000 changes (department moves, role changes, disables, new staff) previewed, then applied
by a background job whose progress page reaches 100 %; the database is checked afterwards.
Timings are printed (pytest -s)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from jiseki.demo.run import DemoStack
from tests.org_seed import Organisation, person, seed_organisation

from .conftest import needs_desktop
from .test_console_browser import PASSWORD, check_layout, query, shot
from .test_console_browser import admin as admin  # the logged-in administrator fixture

pytestmark = [pytest.mark.e2e, needs_desktop]

MOVES, ROLES, DISABLES, CREATES = 900, 20, 40, 40


@pytest.fixture(scope="module")
def organisation(stack: DemoStack) -> Organisation:
    async def seed() -> Organisation:
        return await seed_organisation(stack.gateway.effective_database_url, staff=5000, pcs=200, password=PASSWORD)

    query(stack, "UPDATE departments SET name = name || '（旧）'")  # the seed brings its own 情報政策課
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        return pool.submit(asyncio.run, seed()).result()


def april_csv(org: Organisation) -> str:
    """1,000 rows as personnel would export them: every column, readings in katakana."""
    to_katakana = str.maketrans({chr(c): chr(c + 0x60) for c in range(ord("ぁ"), ord("ゖ") + 1)})
    lines = ["ログインID,氏名,フリガナ,所属,権限,処理"]
    n = len(org.departments)
    for i in range(MOVES + ROLES + DISABLES):
        name, reading = person(i)
        if i < MOVES:
            lines.append(f"{org.staff_ids[i]},{name},{reading.translate(to_katakana)},{org.departments[(i + 1) % n]},,")
        elif i < MOVES + ROLES:
            lines.append(f"{org.staff_ids[i]},{name},{reading.translate(to_katakana)},,ヘルプデスク,")
        else:
            lines.append(f"{org.staff_ids[i]},,,,,無効化")
    for j in range(CREATES):
        lines.append(f"r{j:04d},新任 職員{j},シンニン ショクイン,{org.departments[j % n]},職員,")
    return "\n".join(lines) + "\n"


def test_april_transfers_previewed_then_applied_by_a_job(admin, stack: DemoStack, organisation: Organisation) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    page = admin.new_page()
    page.goto(base + "/admin/staff/import")
    page.set_input_files(
        "#file",
        files=[{"name": "april.csv", "mimeType": "text/csv", "buffer": april_csv(organisation).encode("cp932")}],
    )
    started = time.perf_counter()
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#counts")
    preview = time.perf_counter() - started
    counts = {
        key: page.inner_text(f"#counts td[data-action={key}]")
        for key in ("create", "update", "disable", "unchanged", "error")
    }
    assert counts == {
        "create": f"{CREATES}件",
        "update": f"{MOVES + ROLES}件",
        "disable": f"{DISABLES}件",
        "unchanged": "0件",
        "error": "0件",
    }
    assert "権限: 職員 → ヘルプデスク" in page.inner_text("#preview")
    assert query(stack, "SELECT count(*) FROM users WHERE id LIKE 'r%'") == [(0,)]  # nothing before confirming
    check_layout(page)
    shot(page, "20-import-april-preview-ja")
    started = time.perf_counter()
    page.get_by_role("button", name="1,000件の変更を反映する").click()
    page.wait_for_url(f"{base}/admin/jobs/*")
    shot(page, "21-import-april-progress-ja")  # the progress bar, unless the job was already done
    page.wait_for_selector("#counts", timeout=120_000)  # job.js reloads the page when the job has ended
    applied = time.perf_counter() - started
    assert page.inner_text("#job-percent") == "100%"
    assert page.inner_text("#counts td[data-action=update]") == f"{MOVES + ROLES}件"
    check_layout(page)
    shot(page, "22-import-april-done-ja")
    print(f"\nApril transfers (1,000 rows, 5,000 staff): preview {preview:.2f} s, job {applied:.2f} s")
    first_moved, dept_ids = organisation.staff_ids[0], organisation.department_ids
    assert query(stack, "SELECT department_id FROM users WHERE id = ?", first_moved) == [(dept_ids[1],)]
    assert query(stack, "SELECT count(*) FROM users WHERE role = 'helpdesk' AND id LIKE 's%'") == [(ROLES,)]
    assert query(stack, "SELECT count(*) FROM users WHERE disabled AND id LIKE 's%'") == [(DISABLES,)]
    assert query(stack, "SELECT count(*) FROM users WHERE id LIKE 'r%' AND must_change_password") == [(CREATES,)]
    assert query(stack, "SELECT reading FROM users WHERE id = ?", first_moved) == [(person(0)[1],)]
    assert query(stack, "SELECT count(*) FROM audit_events WHERE kind = 'users_imported'") == [(1,)]
    page.close()
