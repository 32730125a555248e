"""Console: the audit log (filters, words for every code, CSV/XLSX of the filtered view), the session
history (filters, duration, data, end reasons, exports), recordings and usage reports, and a delegated
administrator who sees and downloads only their own departments, also by crafted query strings."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from jiseki.gateway.admin import create_user
from jiseki.gateway.auth import totp
from jiseki.gateway.auth.passwords import PasswordPolicy
from jiseki.gateway.db.models import AuditEvent, Department, Host, Recording, Session, User
from jiseki.gateway.hosts import assign
from jiseki.gateway.scope import set_scope
from jiseki.i18n import JST

from .conftest import PASSWORD, Browser, RunningGateway, Staff
from .console_support import add_console_users, database, events, logged_in, text_of

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

HOSTILE = '=HYPERLINK("http://x","y")'
DAY = dt.date(2026, 11, 20)  # far from today, so the test's own logins stay out of the date filters


def jst(day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=JST)


async def _organisation(gw: RunningGateway) -> None:
    """総務課 (alice, bob, carol: the fixture's), 税務課 (dave on pc-3) with a delegated admin, events and sessions."""
    box = totp.SecretBox(gw.config.gateway.data_dir / "secrets" / "totp.key")
    async with database(gw) as s:
        await create_user(s, PasswordPolicy(), "dave", "税務 太郎", "税務課", "staff", PASSWORD, "test")
        await create_user(s, PasswordPolicy(), "zei-admin", "税務 管理者", "税務課", "admin", PASSWORD, "test")
        secret = totp.new_secret()
        admin = await s.get(User, "zei-admin")
        assert admin is not None
        admin.totp_secret, admin.totp_enabled = box.seal(secret), True
        gw.staff["zei-admin"] = Staff("zei-admin", PASSWORD, secret)
        s.add(Host(id="pc-3", name="税務課PC", cert_fingerprint="f" * 64, cert_serial="3"))
        await s.flush()
        await assign(s, "dave", "pc-3")
        zeimu = (await s.execute(select(Department.id).where(Department.name == "税務課"))).scalar_one()
        await set_scope(s, "zei-admin", [zeimu], [])
        s.add_all(
            [
                Session(
                    id="s-dave",
                    host_id="pc-3",
                    user_id="dave",
                    terminal_id="term-1",
                    state="ended",
                    started_at=jst(20, 23, 59),
                    ended_at=jst(21, 1, 4),
                    end_reason="viewer_closed",
                    bytes_to_viewer=3 * 1024 * 1024,
                    bytes_to_agent=0,
                ),
                Session(
                    id="s-alice",
                    host_id="pc-1",
                    user_id="alice",
                    terminal_id="term-2",
                    state="ended",
                    started_at=jst(21, 0, 0),
                    ended_at=jst(21, 0, 30),
                    end_reason="admin",
                    end_message=HOSTILE,
                    ended_by="root",
                    bytes_to_viewer=500,
                    bytes_to_agent=12,
                ),
                Session(id="s-bob", host_id="pc-2", user_id="bob", state="live", started_at=jst(19, 9, 0)),
                Recording(
                    session_id="s-dave", path="/nonexistent/s-dave", bytes=5 * 1024 * 1024, duration_ms=3_900_000
                ),
                Recording(session_id="s-alice", path="/nonexistent/s-alice", bytes=2048, duration_ms=1_800_000),
            ]
        )

        def event(ts: dt.datetime, kind: str, outcome: str, actor: str, subject: str, **details: object) -> AuditEvent:
            text = json.dumps(details, ensure_ascii=False) if details else None
            return AuditEvent(ts=ts, kind=kind, outcome=outcome, actor=actor, subject=subject, details=text)

        s.add_all(
            [
                event(jst(20, 23, 59, 30), "recording_viewed", "ok", "root", "s-dave"),
                event(
                    jst(21, 0, 0),
                    "session_end",
                    "ok",
                    "dave",
                    "pc-3",
                    session="s-dave",
                    reason="viewer_closed",
                    bytes_to_viewer=70_000,
                ),
                event(
                    jst(19, 10, 0),
                    "login",
                    "denied",
                    "alice",
                    "term-1",
                    result="bad_credentials",
                    reason="wrong_password",
                ),
                event(
                    jst(19, 11, 0),
                    "user_updated",
                    "ok",
                    "root",
                    HOSTILE,
                    before={"display_name": "A", "disabled": False},
                    after={"display_name": HOSTILE, "disabled": True},
                ),
                event(
                    jst(19, 12, 0),
                    "policy_changed",
                    "ok",
                    "root",
                    "department:総務課",
                    before={"clipboard": "none", "days": None},
                    after={"clipboard": "to_host", "days": "mon,tue"},
                ),
                event(jst(19, 13, 0), "policy_changed", "ok", "cli", "department:税務課", after={"record": True}),
            ]
        )


def kinds_of(page: str) -> list[str]:
    """The data-kind of each row of the events table, in order."""
    table = page[page.index('id="events"') :]
    return re.findall(r'<tr data-kind="([^"]+)"', table)


def sessions_of(page: str) -> list[str]:
    table = page[page.index('id="session-history"') :]
    return re.findall(r'<tr data-session="([^"]+)"', table)


def csv_rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with it
    return list(csv.reader(io.StringIO(text[1:], newline="")))


async def xlsx(b: Browser, path: str) -> list[list[object]]:
    async with b.http.get(b.gw.url + path, ssl=b.ssl) as r:
        assert r.status == 200 and r.headers["Content-Disposition"].startswith("attachment;")
        book = load_workbook(io.BytesIO(await r.read()))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # text, never a formula
    return [[c.value for c in row] for row in book.worksheets[0].iter_rows()]


RANGE = "from=2026-11-19&to=2026-11-21"


async def test_audit_log_filters_each_narrow_and_the_end_date_is_included(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await _organisation(gateway)
    async with await logged_in(gateway, "aud") as b:
        status, page, _r = await b.get(f"/admin/audit?{RANGE}")
        assert status == 200
        assert sorted(kinds_of(page)) == [
            "login",
            "policy_changed",
            "policy_changed",
            "recording_viewed",
            "session_end",
            "user_updated",
        ]
        # The end date is included up to 23:59:59 JST, and not a second more.
        _s, page, _r = await b.get("/admin/audit?from=2026-11-20&to=2026-11-20")
        assert kinds_of(page) == ["recording_viewed"]  # 23:59:30, not the 00:00:00 of the next day
        _s, page, _r = await b.get("/admin/audit?from=2026-11-21&to=2026-11-21")
        assert kinds_of(page) == ["session_end"]
        _s, page, _r = await b.get("/admin/audit?from=2026-11-21&to=2026-11-20")  # swapped: the same two days
        assert kinds_of(page) == ["session_end", "recording_viewed"]
        for query, expected in (
            ("kind=login", ["login"]),
            ("outcome=denied", ["login"]),
            ("actor=dave", ["session_end"]),
            ("subject=pc-3", ["session_end"]),
            ("kind=session_end&outcome=denied", []),
        ):
            _s, page, _r = await b.get(f"/admin/audit?{RANGE}&{query}")
            assert kinds_of(page) == expected, query
        # Every kind, outcome, detail key and value in words (Japanese by default), no raw codes.
        _s, page, _r = await b.get(f"/admin/audit?{RANGE}")
        text = text_of(page)
        for words in (
            "録画の再生",
            "接続終了",
            "ログイン",
            "ポリシー変更",
            "成功",
            "拒否",
            "端末への通信量",
            "68.4KB",
            "職員による切断",
            "理由",
            "パスワードの誤り",
            "ログイン結果",
            "ID・パスワード・ワンタイムパスワードの誤り",
            "クリップボード共有",
            "端末 → 自席PCのみ",
            "月、火",
            "無効",
            "はい",
            "いいえ",
            "氏名",
        ):
            assert words in text, words
        for code in (
            "recording_viewed",
            "viewer_closed",
            "bytes_to_viewer",
            "wrong_password",
            "bad_credentials",
            "to_host",
            "display_name",
            "mon,tue",
            " ok ",
            "denied",
        ):
            assert code not in text, code


async def test_audit_paging_keeps_the_filters(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with database(gateway) as s:
        s.add_all(
            AuditEvent(ts=jst(10, 9, 0) + dt.timedelta(minutes=i), kind="logout", outcome="ok", actor=f"u{i}")
            for i in range(60)
        )
    async with await logged_in(gateway, "root") as b:
        _s, page, _r = await b.get("/admin/audit?from=2026-11-10&to=2026-11-10&kind=logout")
        assert len(kinds_of(page)) == 50
        older = re.search(r'href="(/admin/audit\?[^"]+)" rel="next"', page)
        assert older is not None
        link = older.group(1).replace("&amp;", "&")
        assert "from=2026-11-10" in link and "to=2026-11-10" in link and "kind=logout" in link and "before=" in link
        _s, page, _r = await b.get(link)
        assert kinds_of(page) == ["logout"] * 10


async def test_audit_exports_are_the_filtered_view_in_japanese_and_neutralised(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await _organisation(gateway)
    async with await logged_in(gateway, "aud") as b:
        status, text, response = await b.get(f"/admin/audit/export?format=csv&{RANGE}&actor=root")
        assert status == 200 and response.headers["Content-Disposition"].startswith("attachment;")
        rows = csv_rows(text)
        assert rows[0] == [
            "日時",
            "操作・出来事",
            "結果",
            "実行者",
            "実行者（氏名）",
            "対象",
            "対象（名前）",
            "接続元アドレス",
            "変更前 → 変更後・詳細",
            "種類コード",
            "記録番号",
        ]
        assert [r[9] for r in rows[1:]] == ["policy_changed", "user_updated", "recording_viewed"]  # newest first
        by_kind = {r[9]: r for r in rows[1:]}
        viewed, updated = by_kind["recording_viewed"], by_kind["user_updated"]
        assert viewed[:5] == ["2026/11/20 23:59:30", "録画の再生", "成功", "root", "admin root"]
        assert updated[5] == "'" + HOSTILE  # the subject cannot run in Excel
        assert f"氏名: A → {HOSTILE}" in updated[8] and "無効: いいえ → はい" in updated[8]
        values = await xlsx(b, f"/admin/audit/export?format=xlsx&{RANGE}&kind=user_updated")
        assert values[0][0] == "日時" and len(values) == 2
        assert values[1][5] == HOSTILE and values[1][1] == "アカウント変更"
        _s, text, _r = await b.get(f"/admin/audit/export?format=csv&{RANGE}&kind=session_end")
        assert csv_rows(text)[1][3:7] == ["dave", "税務 太郎", "pc-3", "税務課PC"]  # names beside the IDs
        _s, page, _r = await b.get(f"/admin/audit?{RANGE}")
        assert 'href="/admin/audit/export?from=2026-11-19&amp;to=2026-11-21&amp;format=csv"' in page
    exported = await events(gateway, "audit_exported")
    assert [e.actor for e in exported] == ["aud", "aud", "aud"]
    details = json.loads(exported[0].details or "{}")
    assert details["format"] == "csv" and details["filter"] == {
        "from": "2026-11-19",
        "to": "2026-11-21",
        "actor": "root",
    }


async def test_session_history_filters_words_and_exports(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await _organisation(gateway)
    async with database(gateway) as s:
        zeimu = (await s.execute(select(Department.id).where(Department.name == "税務課"))).scalar_one()
    async with await logged_in(gateway, "hd") as b:
        status, page, _r = await b.get(f"/admin/history?{RANGE}")
        assert status == 200 and "接続履歴" in page
        assert sessions_of(page) == ["s-alice", "s-dave", "s-bob"]  # the latest start first
        text = text_of(page)
        for words in (
            "税務 太郎",
            "税務課",
            "税務課PC",
            "1:05",
            "3.0MB",
            "職員による切断",
            "管理者による終了",
            "512バイト",
            "接続中",
        ):
            assert words in text, words
        assert "viewer_closed" not in text and "pc-3" not in text
        for query, expected in (
            ("from=2026-11-20&to=2026-11-20", ["s-dave"]),  # started 23:59 JST: the end date is included
            ("from=2026-11-21&to=2026-11-21", ["s-alice"]),
            ("person=税務", ["s-dave"]),
            ("person=alice", ["s-alice"]),
            ("pc=pc-3", ["s-dave"]),
            ("pc=税務", ["s-dave"]),
            (f"department={zeimu}", ["s-dave"]),
            ("reason=admin", ["s-alice"]),
            ("reason=live", ["s-bob"]),
            ("reason=nonsense", ["s-alice", "s-dave", "s-bob"]),  # an unknown value filters nothing
        ):
            full = query if query.startswith("from=") else f"{RANGE}&{query}"
            _s, page, _r = await b.get(f"/admin/history?{full}")
            assert sessions_of(page) == expected, query
        status, text, _r = await b.get(f"/admin/history/export?format=csv&{RANGE}")
        rows = csv_rows(text)
        assert rows[0][:3] == ["職員", "ログインID", "所属"] and "利用時間（時間:分）" in rows[0]
        by_login = {r[1]: r for r in rows[1:]}
        assert set(by_login) == {"alice", "dave", "bob"}
        assert by_login["dave"][5:10] == [
            "2026/11/20 23:59:00",
            "2026/11/21 01:04:00",
            "1:05",
            str(3 * 1024 * 1024),
            "職員による切断",
        ]
        assert by_login["alice"][10] == "'" + HOSTILE  # the administrator's message, as text
        assert by_login["bob"][9] == "接続中"
        values = await xlsx(b, f"/admin/history/export?format=xlsx&{RANGE}&person=dave")
        assert values[0][0] == "職員" and [v[1] for v in values[1:]] == ["dave"]
    assert [e.actor for e in await events(gateway, "sessions_exported")] == ["hd", "hd"]


async def test_a_delegated_administrator_sees_and_downloads_only_their_scope(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await _organisation(gateway)
    async with await logged_in(gateway, "zei-admin") as b:
        # Audit: events by or about dave, pc-3 and dave's session only; crafted filters find nothing else.
        _s, page, _r = await b.get(f"/admin/audit?{RANGE}")
        assert sorted(kinds_of(page)) == ["policy_changed", "recording_viewed", "session_end"]  # 税務課's policy too
        assert "税務 太郎" in page and "admin root" not in page  # names of their own staff only
        for crafted in ("actor=alice", "subject=term-1", "subject=department:総務課", "kind=login", "actor=root"):
            _s, page, _r = await b.get(f"/admin/audit?{RANGE}&{crafted}")
            assert kinds_of(page) == ([] if crafted != "actor=root" else ["recording_viewed"]), crafted
        _s, text, _r = await b.get(f"/admin/audit/export?format=csv&{RANGE}&actor=alice")
        assert len(csv_rows(text)) == 1  # headers only
        _s, text, _r = await b.get(f"/admin/audit/export?format=csv&{RANGE}")
        assert sorted(r[9] for r in csv_rows(text)[1:]) == ["policy_changed", "recording_viewed", "session_end"]
        assert HOSTILE not in text and "alice" not in text
        # Session history: dave's only, whatever the query says.
        _s, page, _r = await b.get(f"/admin/history?{RANGE}")
        assert sessions_of(page) == ["s-dave"]
        assert "総務課" not in page  # not even in the department filter
        for crafted in ("person=alice", "pc=pc-1", "reason=live", "department=1"):
            _s, page, _r = await b.get(f"/admin/history?{RANGE}&{crafted}")
            assert sessions_of(page) == [], crafted
        _s, text, _r = await b.get(f"/admin/history/export?format=csv&{RANGE}&person=alice")
        assert len(csv_rows(text)) == 1
        values = await xlsx(b, f"/admin/history/export?format=xlsx&{RANGE}")
        assert [v[1] for v in values[1:]] == ["dave"]
        # Recordings: dave's is listed and plays; alice's is "not found", like one that never existed.
        _s, page, _r = await b.get("/admin/recordings")
        assert "税務 太郎" in page and "Alice" not in page and "1:05:00" in page and "5.0MB" in page
        assert (await b.get("/recordings/s-dave"))[0] == 200
        assert (await b.get("/recordings/s-alice"))[0] == 404
        assert (await b.get("/recordings/s-alice/data"))[0] == 404
        # Usage report: their department only, listed even on days without use.
        _s, text, _r = await b.get("/admin/reports/export?format=csv&from=2026-11-19&to=2026-11-21&group=department")
        rows = csv_rows(text)
        assert {r[1] for r in rows[1:]} == {"税務課"} and len(rows) == 4  # three days, one department
        assert [r[3] for r in rows[1:]] == ["0:00", "0:01", "1:04"]
    async with await logged_in(gateway, "root") as b:  # the main administrator sees every department
        _s, text, _r = await b.get("/admin/reports/export?format=csv&from=2026-11-19&to=2026-11-21&group=department")
        groups = {r[1] for r in csv_rows(text)[1:]}
        assert {"税務課", "総務課", "情報政策課"} <= groups  # 情報政策課 had no use: listed with zero
        assert (await b.get("/recordings/s-alice"))[0] == 200


async def test_usage_report_shows_times_in_hours_and_minutes_with_the_end_date_included(
    gateway: RunningGateway,
) -> None:
    await add_console_users(gateway)
    await _organisation(gateway)
    async with await logged_in(gateway, "aud") as b:
        _s, page, _r = await b.get("/admin/reports?from=2026-11-20&to=2026-11-20&group=all")
        assert 'value="2026-11-20"' in page and "2026-11-21" not in page  # one day: the last one shown as chosen
        assert "24:01" in text_of(page)  # bob's session, live all day, and dave's minute before midnight
        assert "時間:分" in page


async def test_crafted_queries_get_pages_not_errors(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        for path in (
            "/admin/audit?before=99999999999999999999999&from=9999-12-31&to=0000-01-01",
            "/admin/audit?before=-5&from=2026-13-45&to=%00&kind=%00&outcome=maybe",
            "/admin/audit/export?format=exe&from=2026-11-01&before=%C2%B2",
            "/admin/history?department=%C2%B2&from=9999-12-31&to=9999-12-31&reason=%00&page=-1",
            "/admin/history?department=99999999999999&person=" + "x" * 500 + "&pc=%25_%5C",
            "/admin/history/export?format=csv&department=-1",
            "/admin/recordings?from=1900-01-01&person=%25",
            "/admin/reports?from=9999-12-31&to=0001-01-01&by=year&group=planet",
        ):
            status, page, _r = await b.get(path)
            assert status == 200, (path, page[:500])
