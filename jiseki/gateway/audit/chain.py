"""The audit hash chain (pure): canonical form of a record, its hash, and verification.

Each sealed record holds `seq` (its place in the chain), `prev_hash` (the hash of the record
before it, or of the anchor left by a retention purge) and `hash` = SHA-256 of its canonical form,
which includes seq, id, time, every field and prev_hash. Editing a field, deleting a record or
moving one changes a hash or leaves a gap, and `verify` names the first record where that shows.

What the records alone cannot show is a cut at either end: the newest records deleted (the chain
just ends earlier) or the oldest deleted with the anchor moved after them. So `verify` also takes
heads witnessed outside the database (the one the sealer writes to the data directory, the last
record the SIEM received) and requires each to be in the chain, and an anchor other than genesis
must be named, with its hash, by a purge record in the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GENESIS = "0" * 64
PURGE_KIND = "audit_purged"


@dataclass(frozen=True)
class Head:
    """A place in the chain: a record's seq and hash (seq 0 with GENESIS: the empty chain)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"a chain head reads SEQ:HASH (a number, a colon, 64 hex digits), got {text!r}")
        return cls(int(seq), digest)


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
    head: Head | None = None  # the newest record (or the anchor when none is left)
    confirmed: tuple[str, ...] = ()  # external heads found in the chain, as "source: seq"

    def __str__(self) -> str:
        if self.ok:
            lines = [f"audit chain intact: {self.checked} record(s) verified"]
        elif self.first_bad_id is None:
            lines = [f"audit chain BROKEN at seq {self.first_bad_seq}: {self.problem}"]
        else:
            lines = [f"audit chain BROKEN at record id={self.first_bad_id} (seq {self.first_bad_seq}): {self.problem}"]
        if self.head is not None:
            lines.append(f"head: seq {self.head.seq} hash {self.head.hash}")
        lines += [f"in the chain: {c}" for c in self.confirmed]
        return "\n".join(lines)


def _names_anchor(r: ChainRecord, anchor_seq: int, anchor_hash: str) -> bool:
    """Is `r` the purge record that left this anchor? (Records of purges older than the hash field
    name only the seq.)"""
    if r.kind != PURGE_KIND or not r.details:
        return False
    try:
        details = json.loads(r.details)
    except ValueError:
        return False
    if not isinstance(details, dict) or details.get("anchor_seq") != anchor_seq:
        return False
    named: object = details.get("anchor_hash", anchor_hash)
    return named == anchor_hash


def _matches(w: Head, anchor_seq: int, anchor_hash: str, seen: dict[int, str]) -> bool:
    if w.seq < anchor_seq:
        return True  # purged since; the purge record names the anchor that replaced it
    if w.seq == anchor_seq:
        return w.hash == anchor_hash
    return seen[w.seq] == w.hash


def verify(
    records: Iterable[ChainRecord],
    anchor_seq: int = 0,
    anchor_hash: str = GENESIS,
    witnesses: Sequence[tuple[str, Head]] = (),
) -> VerifyResult:
    """Check records given in `seq` order, starting after the anchor, then the ends of the chain:
    the anchor must be genesis or named by a purge record, and every witnessed head (source, head)
    must be in the chain (or be the anchor, or lie before it)."""
    expected_seq, prev = anchor_seq + 1, anchor_hash
    checked = 0
    seen: dict[int, str] = {w.seq: "" for _source, w in witnesses}
    purge_found = anchor_seq == 0 and anchor_hash == GENESIS
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
        if r.seq in seen:
            seen[r.seq] = r.hash
        purge_found = purge_found or _names_anchor(r, anchor_seq, anchor_hash)
        prev, expected_seq = r.hash, expected_seq + 1
        checked += 1
    head = Head(expected_seq - 1, prev)
    if not purge_found:
        problem = (
            f"the chain starts after seq {anchor_seq}, but no purge record names that anchor "
            "(the oldest records were deleted and the anchor moved)"
        )
        return VerifyResult(False, checked, anchor_seq + 1, None, problem, head)
    confirmed = []
    for source, w in witnesses:
        if w.seq > head.seq:
            problem = (
                f"record(s) with seq {head.seq + 1}..{w.seq} are missing at the end (deleted): {source} saw seq {w.seq}"
            )
            return VerifyResult(False, checked, head.seq + 1, None, problem, head)
        if not _matches(w, anchor_seq, anchor_hash, seen):
            problem = f"the record differs from the head {source} saw (the chain was rewritten from here)"
            return VerifyResult(False, checked, w.seq, None, problem, head)
        confirmed.append(f"{source}: seq {w.seq}" + (" (purged since)" if w.seq < anchor_seq else ""))
    return VerifyResult(True, checked, head=head, confirmed=tuple(confirmed))
