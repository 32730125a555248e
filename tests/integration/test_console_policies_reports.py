"""Console: groups and policies (edit, validation, preview), usage reports (table, CSV, XLSX), recordings."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from jiseki.gateway.db.models import Host, HostGroup, PolicyRow, Session
from jiseki.i18n import JST

from .conftest import RunningGateway
from .console_support import add_console_users, database, events, logged_in, post, text_of

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

FULL = {
    "clipboard": "",
    "clipboard_max_bytes": "",
    "idle_minutes": "",
    "max_minutes": "",
    "view_only": "",
    "watermark": "",
    "lock_on_end": "",
    "curtain": "",
    "record": "",
    "conflict": "",
    "start": "",
    "end": "",
}


async def test_admin_edits_a_department_policy_and_previews_it(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        fields = {
            **FULL,
            "scope": "department",
            "name": "総務課",
            "clipboard": "to_host",
            "idle_minutes": "30",
            "view_only": "yes",
            "days_set": "on",
            "day_mon": "on",
            "day_tue": "on",
            "start": "08:00",
            "end": "20:00",
        }
        status, _body, location = await post(b, "/admin/policies", fields)
        assert status == 303 and location.startswith("/admin/policies")
        status, page, _r = await b.get("/admin/policies?user=alice&pc=pc-1")
        text = text_of(page)
        assert status == 200 and "端末 → 自席PCのみ" in text and "所属:総務課" in text and "既定" in text
        status, page, _r = await b.get("/admin/policies?user=alice&pc=pc-1&lang=en")
        text = text_of(page)  # the sources in the reader's language too
        assert "Department 総務課" in text and "Default" in text and "所属" not in text
        # A bad value is refused with the setting named, and nothing changes.
        bad = {**fields, "start": "25:99"}
        status, page, _location = await post(b, "/admin/policies", bad)
        assert status == 400 and "start" in page
        status, _body, _location = await post(b, "/admin/policies/group", {"pc": "pc-1", "group": "本庁舎"})
        assert status == 303
    async with database(gateway) as s:
        row = (await s.execute(select(PolicyRow).where(PolicyRow.scope == "department"))).scalar_one()
        assert row.clipboard == "to_host" and row.idle_minutes == 30 and row.view_only is True
        assert row.days == "mon,tue" and row.start == "08:00"
        host = await s.get(Host, "pc-1")
        group = (await s.execute(select(HostGroup))).scalar_one()
        assert host is not None and host.host_group_id == group.id and group.name == "本庁舎"
    changed = await events(gateway, "policy_changed")
    assert changed and changed[-1].actor == "root"


async def test_only_admins_change_policies_but_helpdesk_and_auditors_read_them(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    for login_id in ("hd", "aud"):
        async with await logged_in(gateway, login_id) as b:
            assert (await b.get("/admin/policies"))[0] == 200
            status, _body, _location = await post(
                b, "/admin/policies", {**FULL, "scope": "department", "name": "総務課", "view_only": "yes"}
            )
            assert status == 403
    async with database(gateway) as s:
        assert (await s.execute(select(PolicyRow))).first() is None


async def _sessions(gateway: RunningGateway) -> None:
    async with database(gateway) as s:
        day = dt.datetime(2026, 11, 2, 9, tzinfo=JST)
        for i, (user, hours) in enumerate((("alice", 2), ("bob", 3), ("alice", 1))):
            start = day + dt.timedelta(days=i % 2, hours=i)
            s.add(
                Session(
                    id=f"s{i}",
                    host_id="pc-1",
                    state="ended",
                    user_id=user,
                    started_at=start,
                    ended_at=start + dt.timedelta(hours=hours),
                )
            )


async def test_usage_report_table_csv_and_xlsx(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await _sessions(gateway)
    query = "from=2026-11-02&to=2026-11-03&by=day&group=user"  # both days included
    async with await logged_in(gateway, "aud") as b:
        status, page, _r = await b.get(f"/admin/reports?{query}")
        assert status == 200 and "利用状況レポート" in page and "<svg" in page
        status, csv_text, response = await b.get(f"/admin/reports/export?format=csv&{query}")
        assert status == 200 and response.headers["Content-Disposition"].startswith("attachment;")
        lines = csv_text.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("期間,区分,接続回数")
        assert lines[0].split(",")[3] == "合計時間（時間:分）"
        assert "2026-11-02,alice,2,3:00,1:30," in csv_text  # two sessions, 2 h + 1 h
        assert "2026-11-03,bob,1,3:00,3:00," in csv_text  # the last day is included
        async with b.http.get(f"{gateway.url}/admin/reports/export?format=xlsx&{query}", ssl=b.ssl) as r:
            book = load_workbook(io.BytesIO(await r.read()))
        sheet = book.worksheets[0]
        values = [[c.value for c in row] for row in sheet.iter_rows()]
        three, half = dt.timedelta(hours=3), dt.timedelta(hours=1.5)
        assert values[0][0] == "期間" and ["2026-11-02", "alice", 2, three, half, 1, 1] in values
        assert sheet["D2"].number_format == "[h]:mm"  # Excel shows 3:00 and adds the times up
        assert book.worksheets[1]["A10"].value == "08:00"
    async with await logged_in(gateway, "hd") as b:
        assert (await b.get(f"/admin/reports?{query}"))[0] == 403  # the helpdesk has no reports
    assert (await events(gateway, "report_exported"))[-1].actor == "aud"


async def test_recordings_list_for_admins_and_auditors(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "aud") as b:
        status, page, _r = await b.get("/admin/recordings")
        assert status == 200 and "録画" in page
    async with await logged_in(gateway, "hd") as b:
        assert (await b.get("/admin/recordings"))[0] == 403
