"""Formula injection: every CSV/XLSX the gateway writes shows hostile text as text (issue 12, items 13 and 14)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from jiseki.gateway import reports
from jiseki.gateway.audit.chain import ChainRecord
from jiseki.gateway.audit.export import write_csv as write_audit_csv
from jiseki.gateway.auth.users_csv import initial_passwords_csv
from jiseki.gateway.spreadsheet import safe_cell
from jiseki.i18n import JST

HOSTILE = ('=HYPERLINK("http://x","y")', "@SUM(1)", "\t=1+1", "\r=1+1", "+1", "-1+2", "＝1+1", "＠SUM(1)")
HARMLESS = ("総務課", "a=b", "", "'=already")


@pytest.mark.parametrize("value", HOSTILE)
def test_text_that_could_start_a_formula_gets_an_apostrophe(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_other_text_is_unchanged(value: str) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", (-3, 2.5, 0, None))
def test_numbers_stay_numbers(value: object) -> None:
    assert safe_cell(value) == value


def _report_rows() -> list[reports.Row]:
    day = dt.date(2026, 11, 2)
    return [reports.Row(day, dept, sessions=1, seconds=3600.0, users={"u"}, peak=-1) for dept in HOSTILE] + [
        reports.Row(day, "総務課", sessions=2, seconds=7200.0, users={"u", "v"}, peak=2)
    ]


def _csv_cells(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_usage_report_csv_neutralises_every_text_cell() -> None:
    out = io.StringIO(newline="")
    reports.write_csv(_report_rows(), out)
    rows = _csv_cells(out.getvalue())
    assert [r[1] for r in rows[1:]] == ["'" + d for d in HOSTILE] + ["総務課"]
    assert rows[1][6] == "-1"  # a number stays a number, even a negative one


def test_usage_report_xlsx_has_no_formula_cells(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    reports.write_xlsx(_report_rows(), [0.5] * 24, path)
    book = load_workbook(path)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    sheet = book.worksheets[0]
    shown = [sheet.cell(row=i + 2, column=2).value for i in range(len(HOSTILE))]
    assert shown == [d.replace("\r", "\n") for d in HOSTILE]  # the text itself (XML reads a CR as LF)
    assert all(sheet.cell(row=i + 2, column=2).quotePrefix for i in range(len(HOSTILE)))  # stays text when edited
    assert sheet.cell(row=2, column=3).value == 1 and sheet.cell(row=2, column=3).data_type == "n"


def test_audit_export_neutralises_every_text_column() -> None:
    records = [
        ChainRecord(1, 1, dt.datetime(2026, 11, 2, tzinfo=JST), v, "-x", v, v, "@" + v, v, "", "h")
        for v in ("=1+1", "\t=2+2", "＋3")
    ]
    out = io.StringIO(newline="")
    write_audit_csv(records, out)
    rows = _csv_cells(out.getvalue())[1:]
    for row, value in zip(rows, ("=1+1", "\t=2+2", "＋3"), strict=True):
        seq, _id, _time, kind, outcome, actor, subject, address, details, _hash = row
        assert seq == "1" and kind == actor == subject == details == "'" + value
        assert outcome == "'-x" and address == "'@" + value


def test_initial_passwords_csv_neutralises_its_cells() -> None:
    text = initial_passwords_csv([("-sato", "Ab3#defghijkmnop"), ("@ito", "x")])
    assert _csv_cells(text) == [["login_id", "temporary_password"], ["'-sato", "Ab3#defghijkmnop"], ["'@ito", "x"]]


def test_xlsx_export_drops_characters_xml_cannot_hold(tmp_path: Path) -> None:
    # A staff CSV may bring a department with a control character; the workbook is still written.
    path = tmp_path / "r.xlsx"
    reports.write_xlsx([reports.Row(dt.date(2026, 11, 2), "総務\x01課\x1b", sessions=1)], [0.0] * 24, path)
    assert load_workbook(path).worksheets[0]["B2"].value == "総務課"
