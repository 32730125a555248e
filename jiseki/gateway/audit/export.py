"""Export audit records: CSV that Excel opens correctly (UTF-8 with BOM, Japan time) or JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from jiseki.i18n import JST

from ..spreadsheet import BOM, csv_writer
from .chain import ChainRecord

CSV_COLUMNS = ("seq", "id", "time_jst", "kind", "outcome", "actor", "subject", "address", "details", "hash")


def _row(r: ChainRecord) -> dict[str, object]:
    return {
        "seq": r.seq,
        "id": r.id,
        "time_jst": r.ts.astimezone(JST).isoformat(timespec="seconds"),
        "kind": r.kind,
        "outcome": r.outcome,
        "actor": r.actor or "",
        "subject": r.subject or "",
        "address": r.address or "",
        "details": r.details or "",
        "hash": r.hash,
    }


def write_csv(records: Iterable[ChainRecord], out: TextIO) -> int:
    """`out` must be opened with newline=""; the BOM makes Excel read UTF-8."""
    out.write(BOM)
    writer = csv_writer(out)  # actors, subjects and details come from outside: text, never formulas
    writer.writerow(CSV_COLUMNS)
    count = 0
    for r in records:
        row = _row(r)
        writer.writerow([row[c] for c in CSV_COLUMNS])
        count += 1
    return count


def write_jsonl(records: Iterable[ChainRecord], out: TextIO) -> int:
    count = 0
    for r in records:
        row = _row(r)
        row["details"] = json.loads(r.details) if r.details else None
        row["prev_hash"] = r.prev_hash
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
