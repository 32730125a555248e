"""Parse a CSV of telework terminals to register (pure), and write the archive an import hands back:
one PKCS#12 bundle per terminal and a list of the bundles with their passwords.

Columns: the terminal's name (端末名, required), its ID (端末ID, optional: a new one is made when
empty) and a note (備考, optional: it goes back in the list, it is not stored). English or Japanese
headers; encoding, size limits and per-row errors work as for the staff CSV. One upload registers
at most MAX_TERMINALS terminals: each needs a key, a certificate and a PKCS#12 bundle, made in the
confirming request.
"""

from __future__ import annotations

import io
import secrets
import zipfile
from dataclasses import dataclass

from jiseki.i18n import N_

from .auth.users_csv import RowError, cell_of, data_rows, read_records
from .spreadsheet import csv_text
from .terminals import TerminalBundle, valid_terminal_id
from .textclean import has_controls

MAX_TERMINALS = 500  # per upload: keys, certificates and bundles are made in one request
MAX_NOTE = 255
_HEADERS = {
    "name": ("name", "terminal_name", "端末名", "名前", "名称"),
    "terminal_id": ("terminal_id", "id", "端末id", "端末番号"),
    "note": ("note", "notes", "備考", "メモ"),
}
_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LIST_HEADER = ("端末ID", "端末名", "備考", "ファイル名", "パスワード")
LIST_NAME = "terminals.csv"  # ASCII: every unzip tool reads the name alike


@dataclass(frozen=True)
class TerminalRow:
    line: int
    terminal_id: str  # empty: one is made when the terminal is registered
    name: str
    note: str

    @property
    def cells(self) -> tuple[str, ...]:
        return (self.terminal_id, self.name, self.note)


def new_terminal_id() -> str:
    """A terminal ID for a row that gives none: T- and eight letters or digits easy to read out."""
    return "T-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def parse_terminals_csv(text: str) -> tuple[list[TerminalRow], list[RowError]]:
    records, columns, errors = read_records(text, _HEADERS, ("name",))
    data = data_rows(records, errors)
    if isinstance(data, RowError):
        return [], [data]
    rows: list[TerminalRow] = []
    seen: dict[str, int] = {}
    for number, record, _raw in data:
        name, terminal_id = cell_of(columns, record, "name"), cell_of(columns, record, "terminal_id")
        note = cell_of(columns, record, "note")
        cells = tuple(c[:300] for c in (terminal_id, name, note))  # in the preview's order of columns
        problems: list[RowError] = []
        if not name or len(name) > 255:
            problems.append(RowError(number, N_("The name must be 1-255 characters."), {}, cells))
        if terminal_id and not valid_terminal_id(terminal_id):
            problems.append(
                RowError(
                    number,
                    N_("The terminal ID “{value}” is not valid: use 1-64 letters, digits or . _ -."),
                    {"value": terminal_id[:80]},
                    cells,
                )
            )
        if len(note) > MAX_NOTE:
            problems.append(RowError(number, N_("The note must be at most {n} characters."), {"n": MAX_NOTE}, cells))
        if has_controls(name) or has_controls(note):
            problems.append(
                RowError(
                    number,
                    N_("The name or note contains control characters (tab, line break or invisible codes)."),
                    {},
                    cells,
                )
            )
        if terminal_id and terminal_id in seen:
            problems.append(
                RowError(
                    number,
                    N_("The terminal ID “{value}” already appears on line {line}."),
                    {"value": terminal_id, "line": seen[terminal_id]},
                    cells,
                )
            )
        if not problems and len(rows) >= MAX_TERMINALS:
            problems.append(
                RowError(number, N_("At most {n} terminals can be registered at once."), {"n": MAX_TERMINALS}, cells)
            )
        if problems:
            errors.extend(problems)
            continue
        if terminal_id:
            seen[terminal_id] = number
        rows.append(TerminalRow(number, terminal_id, name, note))
    return rows, errors


def bundle_list_csv(registered: list[tuple[TerminalRow, TerminalBundle]]) -> str:
    """The list in the archive: ID, name, note, bundle file and its password for each terminal (UTF-8
    with BOM for Excel; cells neutralised like every export)."""
    return csv_text(
        [
            LIST_HEADER,
            *((b.terminal_id, row.name, row.note, f"{b.terminal_id}.p12", b.password) for row, b in registered),
        ]
    )


def bundles_zip(registered: list[tuple[TerminalRow, TerminalBundle]]) -> bytes:
    """The archive handed back once: `<terminal ID>.p12` for each terminal and the list (`terminals.csv`)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for _row, bundle in registered:  # already encrypted: stored as they are
            archive.writestr(f"{bundle.terminal_id}.p12", bundle.p12, compress_type=zipfile.ZIP_STORED)
        archive.writestr(LIST_NAME, bundle_list_csv(registered).encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
