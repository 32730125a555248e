"""Parse a staff CSV (pure): one row per staff member, with a per-row error report; write the
initial-passwords CSV an import hands back.

Header names may be English or Japanese. Excel in Japan often saves CSV as Shift_JIS (CP932), so
that is accepted when the file is not UTF-8. Messages are catalogue ids with values, so the console
shows them in the reader's language and the CLI in English.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from jiseki.config_mail import valid_address
from jiseki.i18n import N_

from ..spreadsheet import csv_text
from ..textclean import has_controls
from .accounts import ROLES, valid_login_id

MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024

LOGIN_ID_HEADERS = ("login_id", "id", "ログインid", "職員id", "職員番号", "ユーザーid")
_HEADERS = {
    "login_id": LOGIN_ID_HEADERS,
    "display_name": ("display_name", "name", "氏名", "名前", "表示名"),
    "department": ("department", "所属", "所属課", "部署"),
    "role": ("role", "権限", "役割", "ロール"),
    "reading": ("reading", "読み仮名", "よみがな", "ふりがな", "フリガナ", "読み", "よみ"),
    "email": ("email", "e-mail", "mail", "メールアドレス", "メール", "電子メール"),
    "action": ("action", "処理", "操作"),
}

# What a row asks for. Blank: create the account if the login ID is new, update it if it exists.
ACTIONS = ("create", "update", "disable", "enable", "delete")
ACTION_NAMES = {
    "": "",
    "create": "create",
    "add": "create",
    "作成": "create",
    "追加": "create",
    "新規": "create",
    "update": "update",
    "更新": "update",
    "変更": "update",
    "disable": "disable",
    "無効": "disable",
    "無効化": "disable",
    "停止": "disable",
    "enable": "enable",
    "有効": "enable",
    "有効化": "enable",
    "delete": "delete",
    "削除": "delete",
}


class Reader(Iterator[list[str]], Protocol):
    line_num: int


ROLE_NAMES = {
    "職員": "staff",
    "一般職員": "staff",
    "利用者": "staff",
    "ヘルプデスク": "helpdesk",
    "管理者": "admin",
    "監査担当者": "auditor",
    "administrator": "admin",
}


class CsvFileError(ValueError):
    """The file as a whole cannot be read."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid.format(**values))
        self.msgid = msgid
        self.values = values


@dataclass(frozen=True)
class StaffRow:
    """One data row. For an update, None (a column absent from the file, or an empty cell) means
    "leave as is"; except the reading and the mail address, where an empty cell in a present column
    clears it."""

    line: int
    login_id: str
    display_name: str  # "" = leave as is (required to create)
    department: str | None
    role: str | None
    reading: str | None = None
    action: str = ""  # create / update / disable / enable / delete; "" = create or update
    cells: tuple[str, ...] = ()
    email: str | None = None  # where alerts about the person's own account go

    @property
    def record(self) -> tuple[str, ...]:
        return self.cells or (self.login_id, self.display_name, self.department or "", self.role or "")


def normalise_reading(text: str) -> str:
    """読み仮名 in hiragana: full-width forms (half-width katakana become full-width), katakana
    turned into hiragana, spaces at the ends removed and inner runs of spaces made one."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)
    return " ".join(text.split())


def valid_reading(text: str) -> bool:
    return len(text) <= 255 and all("ぁ" <= c <= "ゖ" or c in "ー・ ゝゞ" for c in text)


@dataclass(frozen=True)
class RowError:
    line: int
    msgid: str
    values: Mapping[str, Any] = field(default_factory=dict)
    record: tuple[str, ...] = ()  # the row's cells, for the console's preview

    @property
    def message(self) -> str:
        return self.msgid.format(**self.values)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def decode_csv(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise CsvFileError(N_("The file is larger than {mb} MB."), mb=MAX_BYTES // (1024 * 1024))
    if b"\x00" in data:  # UTF-16 or a binary file; PostgreSQL could not store it either
        raise CsvFileError(N_("The file is neither UTF-8 nor Shift_JIS text."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError:
            raise CsvFileError(N_("The file is neither UTF-8 nor Shift_JIS text.")) from None


def read_records(
    text: str, headers: Mapping[str, tuple[str, ...]], required: tuple[str, ...]
) -> tuple[Iterator[tuple[int, list[str]]], dict[str, int], list[RowError]]:
    """(numbered records after the header, column of each known field, file-level errors)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return iter(()), {}, [RowError(1, N_("The file is empty."))]
    except csv.Error as exc:
        return iter(()), {}, [RowError(1, N_("The CSV file is malformed ({error}); nothing was read."), {"error": exc})]
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lower()
        for name_of_field, names in headers.items():
            if key in names and name_of_field not in columns:
                columns[name_of_field] = index
    missing = [f for f in required if f not in columns]
    if missing:
        error = RowError(
            1,
            N_("Missing column(s): {columns}. The first line has: {header}."),
            {"columns": ", ".join(missing), "header": ", ".join(header)[:300]},
        )
        return iter(()), columns, [error]
    return _numbered(reader), columns, []


def _numbered(reader: Reader) -> Iterator[tuple[int, list[str]]]:
    number = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield -(reader.line_num or number + 1), [str(exc)]  # negative: a malformed line
            return
        number += 1
        if number - 1 > MAX_ROWS:
            yield 0, []  # zero: too many rows
            return
        yield number, record


def cell_of(columns: Mapping[str, int], record: list[str], name: str) -> str:
    i = columns.get(name)
    return record[i].strip() if i is not None and i < len(record) else ""


def structural_error(number: int, record: list[str]) -> RowError | None:
    """The error for the markers `_numbered` yields instead of a row, if this is one."""
    if number < 0:
        return RowError(
            -number,
            N_("The CSV file is malformed ({error}); nothing was read."),
            {"error": record[0] if record else ""},
        )
    if number == 0:
        return RowError(MAX_ROWS + 2, N_("More than {n} rows; the rest was not read."), {"n": MAX_ROWS})
    return None


Row = tuple[int, list[str], tuple[str, ...]]  # line number, cells, the cells cut for the preview


def data_rows(records: Iterable[tuple[int, list[str]]], errors: list[RowError]) -> list[Row] | RowError:
    """The records that hold data (blank lines left out), each with its cells cut for the console's
    preview; a "too many rows" marker goes to `errors`. A malformed file comes back as its one error:
    it imports nothing."""
    rows: list[Row] = []
    for number, record in records:
        marker = structural_error(number, record)
        if marker is not None:
            if number < 0:
                return marker
            errors.append(marker)
            break
        if any(cell.strip() for cell in record):
            rows.append((number, record, tuple(c[:300] for c in record[:20])))
    return rows


def parse_staff_csv(text: str) -> tuple[list[StaffRow], list[RowError]]:
    """Rows of a staff CSV. Only the login ID column is required; the name is required to create."""
    records, columns, errors = read_records(text, _HEADERS, ("login_id",))
    data = data_rows(records, errors)
    if isinstance(data, RowError):
        return [], [data]
    rows: list[StaffRow] = []
    seen: dict[str, int] = {}
    for number, record, cells in data:
        row, problems = _staff_row(number, record, cells, columns)
        login_id = row.login_id
        if login_id in seen:
            problems.append(
                RowError(
                    number,
                    N_("The login ID “{value}” already appears on line {line}."),
                    {"value": login_id, "line": seen[login_id]},
                    cells,
                )
            )
        if problems:
            errors.extend(problems)
            continue
        seen[login_id] = number
        rows.append(row)
    return rows, errors


def _staff_row(
    number: int, record: list[str], cells: tuple[str, ...], columns: Mapping[str, int]
) -> tuple[StaffRow, list[RowError]]:
    login_id, name = cell_of(columns, record, "login_id"), cell_of(columns, record, "display_name")
    department = cell_of(columns, record, "department")
    role_text = cell_of(columns, record, "role")
    role = ROLE_NAMES.get(role_text, role_text.lower()) if role_text else None
    action_text = cell_of(columns, record, "action")
    action = ACTION_NAMES.get(action_text.lower())
    reading = normalise_reading(cell_of(columns, record, "reading")) if "reading" in columns else None
    email = cell_of(columns, record, "email") if "email" in columns else None
    problems: list[RowError] = []

    def problem(msgid: str, **values: Any) -> None:
        problems.append(RowError(number, msgid, values, cells))

    if not valid_login_id(login_id):
        problem(N_("The login ID “{value}” is not valid: use 1-64 letters, digits or . _ - @."), value=login_id[:80])
    if action is None:
        problem(
            N_("The action “{value}” is unknown: use 作成, 更新, 無効化, 有効化 or 削除 (or leave it blank)."),
            value=action_text[:40],
        )
    if len(name) > 255 or (action == "create" and not name):
        problem(N_("The name must be 1-255 characters."))
    if len(department) > 255:
        problem(N_("The department must be at most 255 characters."))
    if has_controls(name) or has_controls(department):  # a tab or an invisible code: never meant
        problem(N_("The name or department contains control characters (tab, line break or invisible codes)."))
    if reading is not None and not valid_reading(reading):
        problem(N_("The reading “{value}” must be written in hiragana or katakana."), value=reading[:80])
    if role is not None and role not in ROLES:
        problem(N_("The role “{value}” is unknown: use staff, helpdesk, admin or auditor."), value=role_text[:40])
    if email and not valid_address(email):
        problem(N_("The mail address “{value}” is not valid."), value=email[:80])
    row = StaffRow(
        number,
        login_id,
        name,
        department if "department" in columns and department else None,
        role,
        reading,
        action or "",
        (login_id, name, department, role_text, reading or "", action_text, email or ""),
        email,
    )
    return row, problems


PASSWORDS_HEADER = ("login_id", "temporary_password")


def initial_passwords_csv(created: list[tuple[str, str]]) -> str:
    """The file an import hands back (CLI `--passwords-out`, console download): UTF-8 with BOM for Excel,
    cells neutralised like every export (a login ID may start with - or @)."""
    return csv_text([PASSWORDS_HEADER, *created])
