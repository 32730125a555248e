"""The office PC CSV (update mode): examples, and hostile files never crash it or lose a row."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.gateway.hosts import valid_host_id
from jiseki.gateway.pcs_csv import parse_pcs_csv


def test_pcs_csv_examples() -> None:
    rows, errors = parse_pcs_csv(
        "PC ID,PC名,PCグループ,処理\n"
        "pc-1,総務課-01,本庁3階,\n"
        "pc-2,,なし,更新\n"
        "pc-3,,,失効\n"
        "pc-4,,,\n"  # nothing to change
        "pc 5,x,,\n"
        "pc-6,x,,move\n"
        "pc-1,y,,\n"
        "pc-7,名前\tタブ,,\n"
    )
    assert [(r.host_id, r.name, r.group, r.action) for r in rows] == [
        ("pc-1", "総務課-01", "本庁3階", "update"),
        ("pc-2", None, "", "update"),  # 「なし」: out of its group
        ("pc-3", None, None, "revoke"),
    ]
    assert [(e.line, e.msgid.split(" ")[0]) for e in errors] == [
        (5, "Nothing"),
        (6, "The"),
        (7, "The"),
        (8, "This"),
        (9, "A"),
    ]
    assert errors[3].values == {"line": 2} and errors[2].record == ("pc-6", "x", "", "move")
    assert parse_pcs_csv("name,group\nx,y\n")[1][0].msgid.startswith("Missing column(s)")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_pcs_csv_parser_never_crashes(text: str) -> None:
    rows, errors = parse_pcs_csv(text)
    assert all(valid_host_id(r.host_id) and r.action in ("update", "revoke") for r in rows)
    assert all(r.action == "revoke" or r.name is not None or r.group is not None for r in rows)
    assert all(e.line >= 1 and e.msgid.format(**e.values) for e in errors)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=10),
            st.text(max_size=10),
            st.sampled_from(["", "なし", "g1"]),
            st.sampled_from(["", "更新", "失効", "x"]),
        )
    )
)
def test_pcs_csv_reports_every_bad_row_by_its_line(records: list[tuple[str, str, str, str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["host_id", "name", "group", "action"])
    writer.writerows(records)
    rows, errors = parse_pcs_csv(out.getvalue())
    lines = {r.line for r in rows} | {e.line for e in errors}
    non_blank = {i + 2 for i, rec in enumerate(records) if any(c.strip() for c in rec)}
    assert lines == non_blank  # every row is either applied or reported, none is lost
