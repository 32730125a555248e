"""Parse a staff CSV (pure): one row per staff member, with a per-row error report.

Header names may be English or Japanese. Excel in Japan often saves CSV as Shift_JIS (CP932), so
that is accepted when the file is not UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from .accounts import ROLES, valid_login_id

MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024

_HEADERS = {
    "login_id": ("login_id", "id", "ログインid", "職員id", "職員番号", "ユーザーid"),
    "display_name": ("display_name", "name", "氏名", "名前", "表示名"),
    "department": ("department", "所属", "所属課", "部署"),
    "role": ("role", "権限", "役割", "ロール"),
}


class _Reader(Iterator[list[str]], Protocol):
    line_num: int


_ROLE_NAMES = {
    "職員": "staff",
    "利用者": "staff",
    "ヘルプデスク": "helpdesk",
    "管理者": "admin",
    "監査担当者": "auditor",
}


@dataclass(frozen=True)
class StaffRow:
    line: int
    login_id: str
    display_name: str
    department: str
    role: str


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def decode_csv(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError:
            raise ValueError("the file is neither UTF-8 nor Shift_JIS text") from None


def parse_staff_csv(text: str) -> tuple[list[StaffRow], list[RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse(reader)
    except csv.Error as exc:
        return [], [RowError(reader.line_num or 1, f"the CSV is malformed ({exc}); nothing was imported")]


def _parse(reader: _Reader) -> tuple[list[StaffRow], list[RowError]]:
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowError(1, "the file is empty")]
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lower()
        for field, names in _HEADERS.items():
            if key in names:
                columns[field] = index
    missing = [f for f in ("login_id", "display_name") if f not in columns]
    if missing:
        return [], [RowError(1, f"missing column(s): {', '.join(missing)} (header: {', '.join(header)})")]
    rows: list[StaffRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, record in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            errors.append(RowError(number, f"more than {MAX_ROWS} rows; the rest was not read"))
            break
        if not any(cell.strip() for cell in record):
            continue

        def cell(field: str, record: list[str] = record) -> str:
            i = columns.get(field)
            return record[i].strip() if i is not None and i < len(record) else ""

        login_id, name, department = cell("login_id"), cell("display_name"), cell("department")
        role_text = cell("role") or "staff"
        role = _ROLE_NAMES.get(role_text, role_text.lower())
        problems = []
        if not valid_login_id(login_id):
            problems.append(f"login_id {login_id!r} must be 1-64 letters, digits or . _ - @")
        if not name or len(name) > 255:
            problems.append("display_name must be 1-255 characters")
        if len(department) > 255:
            problems.append("department must be at most 255 characters")
        if role not in ROLES:
            problems.append(f"role {role_text!r} must be one of {', '.join(ROLES)}")
        if login_id in seen:
            problems.append(f"login_id {login_id!r} already appears on line {seen[login_id]}")
        if problems:
            errors.extend(RowError(number, p) for p in problems)
            continue
        seen[login_id] = number
        rows.append(StaffRow(number, login_id, name, department, role))
    return rows, errors
