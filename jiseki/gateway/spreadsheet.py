"""Cells that a spreadsheet shows as text, never runs: every CSV and XLSX the gateway writes goes through here.

Excel (and LibreOffice) treat a cell starting with = + - @ as a formula, and also one whose formula sign
follows a TAB or CR; Japanese Excel converts the full-width signs ＝ ＋ － ＠ typed into a cell the same way,
so those count too. A department or login ID chosen by someone else must not become
`=HYPERLINK(...)` in an administrator's workbook.

- CSV: such text gets a leading apostrophe (the usual neutralisation: Excel shows the text, runs nothing).
- XLSX: every str is written as a string cell (openpyxl would store "=..." as a formula); the risky ones
  also get Excel's quote-prefix style, so editing the cell later does not turn it into a formula.
Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMULA_LEADERS = frozenset("=+-@\t\r＝＋－＠")
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only with it


def risky(value: str) -> bool:
    """Would a spreadsheet read this text as the start of a formula?"""
    return value[:1] in FORMULA_LEADERS


def safe_cell(value: Any) -> Any:
    """The CSV form of one cell: text that could start a formula gets a leading apostrophe."""
    if isinstance(value, str) and risky(value):
        return "'" + value
    return value


def csv_writer(out: TextIO) -> Any:
    """A csv.writer whose rows are neutralised cell by cell (CRLF lines, as Excel writes them)."""
    return _SafeWriter(csv.writer(out, lineterminator="\r\n"))


class _SafeWriter:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """A whole CSV file as text: BOM, neutralised cells, CRLF lines."""
    out = io.StringIO(newline="")
    out.write(BOM)
    csv_writer(out).writerows(rows)
    return out.getvalue()


def _text_cells(values: Sequence[Any], make_cell: Any) -> list[Any]:
    """The row's values with every str a text cell made by `make_cell(text)` (never a formula; a
    risky one quote-prefixed); control characters XML cannot hold are dropped (openpyxl raises)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    row: list[Any] = []
    for v in values:
        if isinstance(v, str):
            text = ILLEGAL_CHARACTERS_RE.sub("", v)
            cell = make_cell(text)
            cell.data_type = "s"
            if risky(text):
                cell.quotePrefix = True
            row.append(cell)
        else:
            row.append(v)
    return row


def append_row(sheet: Any, values: Sequence[Any]) -> None:
    """Append one row to an openpyxl worksheet with every str stored as text, never as a formula.

    The cells are made before the append, not looked up after it: `sheet.max_row` scans every cell
    (a 150,000-row report took minutes)."""
    from openpyxl.cell.cell import Cell

    sheet.append(_text_cells(values, lambda text: Cell(sheet, row=1, column=1, value=text)))  # `append` places it


def append_row_streamed(sheet: Any, values: Sequence[Any]) -> None:
    """`append_row` for a write-only worksheet (large exports): every str a text cell, never a formula."""
    from openpyxl.cell import WriteOnlyCell

    sheet.append(_text_cells(values, lambda text: WriteOnlyCell(sheet, value=text)))
