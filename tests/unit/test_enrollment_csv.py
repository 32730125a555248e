"""The PC list for bulk enrollment tokens: what is read, what is refused (line by line)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from jiseki.gateway.enrollment_csv import MAX_PCS, parse_pc_list, tokens_csv


def test_japanese_headers_extra_columns_and_blank_lines() -> None:
    rows, errors = parse_pc_list("資産番号,名称,設置場所\nA-001,総務課 01,3F\n\n A-002 , 財政課 02 ,4F\n")
    assert errors == []
    assert [(r.line, r.host_id, r.name) for r in rows] == [(2, "A-001", "総務課 01"), (4, "A-002", "財政課 02")]


def test_each_bad_row_is_named_and_the_good_ones_still_read() -> None:
    text = "host_id,name\nok-1,One\nbad id,Two\nok-3,\nok-4,Four\x07\nok-1,again\n"
    rows, errors = parse_pc_list(text)
    assert [r.host_id for r in rows] == ["ok-1"]
    assert [(e.line, e.msgid.split(":")[0][:22]) for e in errors] == [
        (3, "The PC ID “{value}” is"),
        (4, "The PC name must be 1-"),
        (5, "The PC name must be 1-"),  # a control character in a name shown to staff
        (6, "This PC already appear"),
    ]


def test_missing_columns_and_too_many_pcs() -> None:
    _rows, errors = parse_pc_list("name\nx\n")
    assert errors and errors[0].values["columns"] == "host_id"
    many = "host_id,name\n" + "".join(f"pc-{i},PC {i}\n" for i in range(MAX_PCS + 1))
    rows, errors = parse_pc_list(many)
    assert len(rows) == MAX_PCS and errors[-1].values == {"n": MAX_PCS}


def test_the_tokens_file_is_neutralised_and_in_japan_time() -> None:
    when = dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC)
    text = tokens_csv([("pc-1", "=cmd|' /C calc'!A0", "jsk1.a.b", when)])
    assert text.startswith("\ufeff")
    header, row = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert header == ["host_id", "host_name", "token", "expires_at_jst"]
    assert row == ["pc-1", "'=cmd|' /C calc'!A0", "jsk1.a.b", "2026-12-06 00:00"]
