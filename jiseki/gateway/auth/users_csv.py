"""Parse a staff CSV (pure): one row per staff member, with a per-row error report; write the
initial-passwords CSV an import hands back.

Header names may be English or Japanese. Excel in Japan often saves CSV as Shift_JIS (CP932), so
that is accepted when the file is not UTF-8. Messages are catalogue ids with values, so the console
shows them in the reader's language and the CLI in English.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

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
}


class Reader(Iterator[list[str]], Protocol):
    line_num: int


ROLE_NAMES = {
    "職員": "staff",
    "利用者": "staff",
    "ヘルプデスク": "helpdesk",
    "管理者": "admin",
    "監査担当者": "auditor",
}


class CsvFileError(ValueError):
    """The file as a whole cannot be read."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid.format(**values))
        self.msgid = msgid
        self.values = values


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
    records, columns, errors = read_records(text, _HEADERS, ("login_id", "display_name"))
    data = data_rows(records, errors)
    if isinstance(data, RowError):
        return [], [data]
    rows: list[StaffRow] = []
    seen: dict[str, int] = {}
    for number, record, cells in data:
        login_id, name = cell_of(columns, record, "login_id"), cell_of(columns, record, "display_name")
        department = cell_of(columns, record, "department")
        role_text = cell_of(columns, record, "role") or "staff"
        role = ROLE_NAMES.get(role_text, role_text.lower())
        problems: list[RowError] = []
        if not valid_login_id(login_id):
            problems.append(
                RowError(
                    number,
                    N_("The login ID “{value}” is not valid: use 1-64 letters, digits or . _ - @."),
                    {"value": login_id[:80]},
                    cells,
                )
            )
        if not name or len(name) > 255:
            problems.append(RowError(number, N_("The name must be 1-255 characters."), {}, cells))
        if len(department) > 255:
            problems.append(RowError(number, N_("The department must be at most 255 characters."), {}, cells))
        if has_controls(name) or has_controls(department):  # a tab or an invisible code: never meant
            problems.append(
                RowError(
                    number,
                    N_("The name or department contains control characters (tab, line break or invisible codes)."),
                    {},
                    cells,
                )
            )
        if role not in ROLES:
            problems.append(
                RowError(
                    number,
                    N_("The role “{value}” is unknown: use staff, helpdesk, admin or auditor."),
                    {"value": role_text[:40]},
                    cells,
                )
            )
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
        rows.append(StaffRow(number, login_id, name, department, role))
    return rows, errors


PASSWORDS_HEADER = ("login_id", "temporary_password")


def initial_passwords_csv(created: list[tuple[str, str]]) -> str:
    """The file an import hands back (CLI `--passwords-out`, console download): UTF-8 with BOM for Excel,
    cells neutralised like every export (a login ID may start with - or @)."""
    return csv_text([PASSWORDS_HEADER, *created])
