"""The audit hash chain (pure): canonical form of a record, its hash, and verification.

Each sealed record holds `seq` (its place in the chain), `prev_hash` (the hash of the record
before it, or of the anchor left by a retention purge) and `hash` = SHA-256 of its canonical form,
which includes seq, id, time, every field and prev_hash. Editing a field, deleting a record or
moving one changes a hash or leaves a gap, and `verify` names the first record where that shows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainRecord:
    id: int
    seq: int
    ts: dt.datetime
    kind: str
    outcome: str
    actor: str | None
    subject: str | None
    address: str | None
    details: str | None
    prev_hash: str
    hash: str


def canonical(
    seq: int,
    record_id: int,
    ts: dt.datetime,
    kind: str,
    outcome: str,
    actor: str | None,
    subject: str | None,
    address: str | None,
    details: str | None,
    prev_hash: str,
) -> bytes:
    stamp = ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = [seq, record_id, stamp, kind, outcome, actor, subject, address, details, prev_hash]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def record_hash(
    seq: int,
    record_id: int,
    ts: dt.datetime,
    kind: str,
    outcome: str,
    actor: str | None,
    subject: str | None,
    address: str | None,
    details: str | None,
    prev_hash: str,
) -> str:
    return hashlib.sha256(
        canonical(seq, record_id, ts, kind, outcome, actor, subject, address, details, prev_hash)
    ).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problem: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} record(s) verified"
        return f"audit chain BROKEN at record id={self.first_bad_id} (seq {self.first_bad_seq}): {self.problem}"


def verify(records: Iterable[ChainRecord], anchor_seq: int = 0, anchor_hash: str = GENESIS) -> VerifyResult:
    """Check records given in `seq` order, starting after the anchor."""
    expected_seq, prev = anchor_seq + 1, anchor_hash
    checked = 0
    for r in records:
        if r.seq != expected_seq:
            problem = (
                f"record(s) with seq {expected_seq}..{r.seq - 1} are missing (deleted)"
                if r.seq > expected_seq
                else f"seq {r.seq} is out of order (expected {expected_seq})"
            )
            return VerifyResult(False, checked, r.seq, r.id, problem)
        if r.prev_hash != prev:
            return VerifyResult(False, checked, r.seq, r.id, "does not follow the previous record (prev_hash)")
        computed = record_hash(
            r.seq, r.id, r.ts, r.kind, r.outcome, r.actor, r.subject, r.address, r.details, r.prev_hash
        )
        if computed != r.hash:
            return VerifyResult(False, checked, r.seq, r.id, "its content does not match its hash (edited)")
        prev, expected_seq = r.hash, expected_seq + 1
        checked += 1
    return VerifyResult(True, checked)
