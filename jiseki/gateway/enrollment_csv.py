"""Enrollment tokens for many office PCs at once (pure): the PC list in, the tokens out.

In: a CSV of PC ID and PC name (English or Japanese headers), as an asset list exports it; encoding
and per-row errors work as for the staff CSV. Out: the tokens as a CSV for the roll-out tool (a GPO
script or an asset-management tool passes each PC its own `ENROLL_TOKEN`), cells neutralised against
spreadsheet formulas, UTF-8 with a BOM so Excel reads it. The tokens are never stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from jiseki.i18n import N_

from .auth.users_csv import RowError, cell_of, data_rows, read_records
from .hosts import valid_host_id
from .policy import JST
from .spreadsheet import csv_text

MAX_PCS = 5_000  # one roll-out wave of a prefecture (4,300 PCs) in one file
MAX_NAME = 255
_HEADERS = {
    "host_id": ("host_id", "host", "pc", "pc_id", "pcid", "pc id", "自席pc", "自席pcid", "資産番号"),
    "name": ("name", "host_name", "pc_name", "pc名", "名称", "表示名"),
}
OUT_HEADER = ("host_id", "host_name", "token", "expires_at_jst")


@dataclass(frozen=True)
class PcRow:
    line: int
    host_id: str
    name: str


def parse_pc_list(text: str) -> tuple[list[PcRow], list[RowError]]:
    records, columns, errors = read_records(text, _HEADERS, ("host_id", "name"))
    data = data_rows(records, errors)
    if isinstance(data, RowError):
        return [], [data]
    rows: list[PcRow] = []
    seen: dict[str, int] = {}
    for number, record, cells in data:
        host_id, name = cell_of(columns, record, "host_id"), cell_of(columns, record, "name")
        if not valid_host_id(host_id):
            errors.append(
                RowError(
                    number,
                    N_("The PC ID “{value}” is not valid: use 1-64 letters, digits or . _ -."),
                    {"value": host_id[:80]},
                    cells,
                )
            )
        elif not name or len(name) > MAX_NAME or not name.isprintable():
            errors.append(RowError(number, N_("The PC name must be 1-255 characters."), {}, cells))
        elif host_id in seen:
            first = {"line": seen[host_id]}
            errors.append(RowError(number, N_("This PC already appears on line {line}."), first, cells))
        elif len(rows) >= MAX_PCS:
            errors.append(RowError(number, N_("More than {n} PCs in one file."), {"n": MAX_PCS}, cells))
            break
        else:
            seen[host_id] = number
            rows.append(PcRow(number, host_id, name))
    return rows, errors


def tokens_csv(issued: Iterable[tuple[str, str, str, dt.datetime]]) -> str:
    """host_id, host_name, token, expiry (Japan time) per PC (BOM, neutralised cells, CRLF)."""
    lines = [
        (host_id, name, token, expires.astimezone(JST).strftime("%Y-%m-%d %H:%M"))
        for host_id, name, token, expires in issued
    ]
    return csv_text([OUT_HEADER, *lines])
