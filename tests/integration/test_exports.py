"""Exports from the real gateway and CLI open in Excel as text, never as formulas (issue 12, items 13 and 14)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from jiseki.gateway.admin import create_user
from jiseki.gateway.auth.passwords import PasswordPolicy
from jiseki.gateway.db.models import Session
from jiseki.i18n import JST

from .conftest import PASSWORD, RunningGateway
from .console_support import add_console_users, database, logged_in

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

DEPARTMENTS = ('=HYPERLINK("http://x","y")', "@SUM(1)", "\t=1+1")


async def _sessions_in_hostile_departments(gateway: RunningGateway) -> None:
    async with database(gateway) as s:
        for i, dept in enumerate(DEPARTMENTS):
            await create_user(s, PasswordPolicy(), f"u{i}", f"User {i}", dept, "staff", PASSWORD, "test")
        await s.flush()
        start = dt.datetime(2026, 11, 2, 9, tzinfo=JST)
        for i in range(len(DEPARTMENTS)):
            s.add(
                Session(
                    id=f"s{i}",
                    host_id="pc-1",
                    state="ended",
                    user_id=f"u{i}",
                    started_at=start,
                    ended_at=start + dt.timedelta(hours=1),
                )
            )


async def test_usage_report_downloads_show_hostile_departments_as_text(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await _sessions_in_hostile_departments(gateway)
    query = "from=2026-11-02&to=2026-11-03&by=day&group=department"
    async with await logged_in(gateway, "aud") as b:
        status, text, _r = await b.get(f"/admin/reports/export?format=csv&{query}")
        assert status == 200
        groups = {row[1] for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))}
        assert {"'" + d for d in DEPARTMENTS} <= groups and not groups & set(DEPARTMENTS)
        async with b.http.get(f"{gateway.url}/admin/reports/export?format=xlsx&{query}", ssl=b.ssl) as r:
            assert r.status == 200
            book = load_workbook(io.BytesIO(await r.read()))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert set(DEPARTMENTS) <= {c.value for c in cells}


def test_cli_import_users_writes_a_neutralised_passwords_file(tmp_path: Path) -> None:
    config = tmp_path / "j.toml"
    config.write_text(f'[gateway]\ndata_dir = "{tmp_path / "gw"}"\n', "utf-8")
    staff = tmp_path / "staff.csv"
    staff.write_text("login_id,display_name,department\n-sato,佐藤,総務課\n@ito,伊藤,=1+1\n", "utf-8")
    out = tmp_path / "initial-passwords.csv"
    command = ["admin", "import-users", str(staff), "--passwords-out", str(out), "--config", str(config)]
    result = subprocess.run(
        [sys.executable, "-m", "jiseki", *command],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"), newline="")))  # BOM: Excel reads UTF-8
    assert rows[0] == ["login_id", "temporary_password"]
    assert [r[0] for r in rows[1:]] == ["'-sato", "'@ito"]
    assert all(r[1][0].isalnum() and len(r[1]) == 16 for r in rows[1:])


def test_cli_import_users_update_mode(tmp_path: Path) -> None:
    config = tmp_path / "j.toml"
    config.write_text(f'[gateway]\ndata_dir = "{tmp_path / "gw"}"\n', "utf-8")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("login_id,display_name,department,role\nadm,管理,総務課,admin\nk1,一郎,総務課,\nk2,二郎,総務課,\n")
    second.write_text("ログインID,所属,読み仮名,処理\nk1,人事課,イチロウ,\nk2,,,無効化\nk3,,,\n", "utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "jiseki", "admin", "import-users", *args, "--config", str(config)]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)

    assert run(str(first)).returncode == 0
    without = run(str(second))  # without --update a blank action only creates (k1 exists); k2 is disabled
    assert without.returncode == 1 and "already exists" in without.stderr and "also: disable 1" in without.stdout
    result = run(str(second), "--update")
    assert result.returncode == 1 and "also: update 1, unchanged 1" in result.stdout
    assert "line 4: The name must be 1-255 characters." in result.stderr
    with sqlite3.connect(tmp_path / "gw" / "jiseki.db") as db:
        query = "SELECT u.id, d.name, u.reading, u.disabled FROM users u JOIN departments d ON d.id = u.department_id"
        rows = db.execute(query + " ORDER BY u.id").fetchall()
    assert rows == [("adm", "総務課", None, 0), ("k1", "人事課", "いちろう", 0), ("k2", "総務課", None, 1)]
