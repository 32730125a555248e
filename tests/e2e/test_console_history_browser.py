"""The audit log and the session history in real Chromium, over a prefecture-sized organisation
(5,000 staff, 5,000 PCs) with thousands of audit events and sessions inserted in bulk: filter the audit
log by date and kind, download the filtered CSV (a download event) and check the file; download the
whole month of the audit log and of the session history and print how long each took."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, update

from jiseki.demo.run import DemoStack
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, Department, Session
from jiseki.i18n import JST
from tests.org_seed import seed_organisation

from .conftest import needs_desktop, terminal_context
from .test_console_browser import PASSWORD, VIEWPORT, check_layout, login_as, query, shot

pytestmark = [pytest.mark.e2e, needs_desktop]

EVENTS = 6_000
SESSIONS = 6_000
KINDS = ("login", "session_start", "session_end", "recording_viewed", "policy_changed", "user_updated")
REASONS = ("viewer_closed", "idle", "admin", "network", "hours")
HOSTILE = '=HYPERLINK("http://x","y")'
MONTH = dt.datetime(2026, 11, 1, tzinfo=JST)


def _event(i: int, staff: list[str], hosts: list[str]) -> dict[str, Any]:
    kind = KINDS[i % len(KINDS)]
    ts = MONTH + dt.timedelta(minutes=7 * i)  # 6,000 events over about 29 days
    details: dict[str, Any] = {}
    if kind == "session_end":
        details = {"reason": REASONS[i % len(REASONS)], "bytes_to_viewer": 1000 * i}
    elif kind == "user_updated":
        details = {"before": {"display_name": "旧"}, "after": {"display_name": HOSTILE}}
    subject = HOSTILE if kind == "recording_viewed" and i % 12 == 3 else hosts[i % len(hosts)]
    return dict(
        ts=ts,
        kind=kind,
        outcome="denied" if kind == "login" and i % 5 == 0 else "ok",
        actor=staff[i % len(staff)],
        subject=subject,
        address="192.0.2.1",
        details=json.dumps(details, ensure_ascii=False) if details else None,
    )


def _session(i: int, staff: list[str], hosts: list[str]) -> dict[str, Any]:
    start = MONTH + dt.timedelta(minutes=7 * i)
    return dict(
        id=f"hist-{i:05d}",
        host_id=hosts[i % len(hosts)],
        user_id=staff[i % len(staff)],
        state="ended",
        created_at=start,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=30 + i % 240),
        end_reason=REASONS[i % len(REASONS)],
        bytes_to_viewer=1024 * 1024 * (i % 50),
        bytes_to_agent=4096,
        updates=0,
    )


@pytest.fixture(scope="module")
def seeded(stack: DemoStack) -> None:
    async def seed() -> None:
        url = stack.gateway.effective_database_url
        engine = make_engine(url)
        # The demo's own departments (情報政策課 …) would collide with the seeded names (unique).
        async with sessionmaker(engine).begin() as s:
            await s.execute(update(Department).values(name=Department.name + "（デモ）"))
        org = await seed_organisation(url, staff=5000, pcs=5000, password=PASSWORD)
        try:
            async with sessionmaker(engine).begin() as s:
                rows = [_event(i, org.staff_ids, org.host_ids) for i in range(EVENTS)]
                for start in range(0, len(rows), 1000):
                    await s.execute(insert(AuditEvent), rows[start : start + 1000])
                sessions = [_session(i, org.staff_ids, org.host_ids) for i in range(SESSIONS)]
                for start in range(0, len(sessions), 1000):
                    await s.execute(insert(Session), sessions[start : start + 1000])
        finally:
            await engine.dispose()

    # Playwright's sync API runs an event loop in this thread: the database work gets its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, seed()).result()


@pytest.fixture(scope="module")
def admin(browser, stack: DemoStack, seeded: None) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    creds = stack.credentials
    assert creds is not None and creds.admin_login_id
    context = terminal_context(browser, stack, viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    login_as(page, stack, creds.admin_login_id, creds.admin_password, creds.admin_totp_secret)
    page.close()
    yield context
    context.close()


def _download(page: Any, selector: str) -> tuple[Path, float]:
    started = time.perf_counter()
    with page.expect_download(timeout=120_000) as info:
        page.click(selector)
    path = Path(info.value.path())
    return path, time.perf_counter() - started


def _csv(path: Path) -> list[list[str]]:
    text = path.read_text("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with it
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def _xlsx_rows(path: Path) -> int:
    book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    return sum(1 for _row in book.worksheets[0].iter_rows(values_only=True))


def test_filter_the_audit_log_by_date_and_kind_and_download_it(admin, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = admin.new_page()
    page.goto(stack.base_url + "/admin/audit")
    page.get_by_label("開始日").fill("2026-11-10")
    page.get_by_label("終了日（この日を含む）").fill("2026-11-12")
    page.get_by_label("操作・出来事").select_option(label="録画の再生")
    page.get_by_role("button", name="検索").click()
    page.wait_for_url("**/admin/audit?*kind=recording_viewed*")
    rows = page.locator("#events tbody tr")
    assert rows.count() == 50  # the first page of many
    assert set(page.locator("#events tbody tr td:nth-child(2)").all_inner_texts()) == {"録画の再生"}
    check_layout(page)
    shot(page, "30-audit-filtered-ja")
    # The filtered view as CSV, from the page's own link (a download, as the browser does it).
    path, _seconds = _download(page, "#export-csv")
    table = _csv(path)
    assert table[0][:3] == ["日時", "操作・出来事", "結果"]
    expected = query(
        stack,
        "SELECT id FROM audit_events WHERE kind = 'recording_viewed' AND ts >= ? AND ts < ?",
        "2026-11-09 15:00:00.000000",  # 2026-11-10 00:00 JST
        "2026-11-12 15:00:00.000000",  # 2026-11-13 00:00 JST: the end date included
    )
    assert len(table) - 1 == len(expected) > 50
    assert {r[1] for r in table[1:]} == {"録画の再生"} and {r[9] for r in table[1:]} == {"recording_viewed"}
    days = {r[0][:10] for r in table[1:]}
    assert days <= {"2026/11/10", "2026/11/11", "2026/11/12"} and "2026/11/12" in days
    subjects = [r[5] for r in table[1:]]
    assert "'" + HOSTILE in subjects and HOSTILE not in subjects  # text in Excel, never a formula
    exported = query(stack, "SELECT details FROM audit_events WHERE kind = 'audit_exported' ORDER BY id DESC")
    filters = {"from": "2026-11-10", "to": "2026-11-12", "kind": "recording_viewed"}
    assert json.loads(exported[0][0])["filter"] == filters
    page.close()


def test_month_exports_at_prefecture_scale(admin, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    """Every event and every session of the month (6,000 each): how long the downloads take."""
    page = admin.new_page()
    timings = {}
    page.goto(stack.base_url + "/admin/audit?from=2026-11-01&to=2026-11-30")
    path, timings["audit CSV"] = _download(page, "#export-csv")
    assert len(_csv(path)) - 1 == EVENTS
    path, timings["audit XLSX"] = _download(page, "#export-xlsx")
    assert _xlsx_rows(path) == EVENTS + 1
    page.goto(stack.base_url + "/admin/history?from=2026-11-01&to=2026-11-30")
    assert "6,000件" in page.inner_text("main")
    check_layout(page)
    shot(page, "31-session-history-ja")
    path, timings["sessions CSV"] = _download(page, "#export-csv")
    table = _csv(path)
    assert len(table) - 1 == SESSIONS and table[0][0] == "職員"
    path, timings["sessions XLSX"] = _download(page, "#export-xlsx")
    assert _xlsx_rows(path) == SESSIONS + 1
    for name, seconds in timings.items():
        print(f"export timing: {name} of 6,000 rows over 5,000 staff: {seconds:.2f} s")
    page.close()
