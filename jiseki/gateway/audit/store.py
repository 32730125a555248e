"""The audit trail in the database: sealing new records into the chain, verifying it, purging old
records while keeping it verifiable, and reading records for export.

Records are written by many code paths inside their own transactions (`audit.event`); the sealer
then appends them to the chain in one place, in the order it finds them. On PostgreSQL an advisory
lock makes sure only one node seals at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.models import AuditAnchor, AuditEvent, utcnow
from ..db.results import rowcount
from . import event
from .chain import GENESIS, PURGE_KIND, ChainRecord, Head, VerifyResult, record_hash, verify
from .head import HeadFile, HeadFileError

log = logging.getLogger(__name__)

SEAL_BATCH = 1000
SEAL_INTERVAL = 1.0
_PG_LOCK = 0x6A69_7365  # "jise"


async def _anchor(s: AsyncSession) -> AuditAnchor:
    anchor = await s.get(AuditAnchor, 1)
    if anchor is None:
        anchor = AuditAnchor(id=1, last_seq=0, last_hash=GENESIS, purged_count=0)
        s.add(anchor)
        await s.flush()
    return anchor


async def _witness_still_in_chain(s: AsyncSession, anchor: AuditAnchor, seen: Head) -> bool:
    if seen.seq < anchor.last_seq:
        return True  # purged since
    if seen.seq == anchor.last_seq:
        return seen.hash == anchor.last_hash
    found = (await s.execute(select(AuditEvent.hash).where(AuditEvent.seq == seen.seq))).scalar_one_or_none()
    return found == seen.hash


async def seal(db: async_sessionmaker[AsyncSession], head: HeadFile | None = None) -> int:
    """Append unsealed records to the chain; returns how many were sealed.

    With `head` (the node's head file), the newest sealed record is recorded outside the database
    after each commit. If records this node sealed have disappeared from the end of the chain, the
    new ones are numbered after the last seq it recorded: the gap stays in the chain for `verify` to
    name, even without the file. If the recorded record was rewritten, the file is left as it is
    (evidence) and the error logged; sealing goes on either way (the trail must keep recording)."""
    sealed = 0
    while True:
        seen = _read_quietly(head)  # before the chain: the file never runs ahead of a committed seal
        async with db.begin() as s:
            if s.get_bind().dialect.name == "postgresql":
                await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            rows = (
                (
                    await s.execute(
                        select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(SEAL_BATCH)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return sealed
            seq, prev, keep_witness = await _chain_end(s, seen, head)
            for row in rows:
                seq += 1
                row.seq, row.prev_hash = seq, prev
                row.hash = record_hash(
                    seq, row.id, row.ts, row.kind, row.outcome, row.actor, row.subject, row.address, row.details, prev
                )
                prev = row.hash
        if head is not None and not keep_witness:
            await asyncio.to_thread(head.advance, Head(seq, prev))  # fsync: not on the event loop
        sealed += len(rows)
        if len(rows) < SEAL_BATCH:
            return sealed


async def _chain_end(s: AsyncSession, seen: Head | None, head: HeadFile | None) -> tuple[int, str, bool]:
    """(seq, hash) to seal after, and whether the head file must be kept as evidence."""
    last = (
        await s.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.seq.is_not(None))
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    anchor = await _anchor(s)
    if last is None:
        seq, prev = anchor.last_seq, anchor.last_hash
    else:
        assert last.seq is not None  # the query selects sealed records only
        seq, prev = int(last.seq), str(last.hash)
    if seen is None or head is None:
        return seq, prev, False
    if seen.seq > seq:
        log.error(
            "audit records after seq %d are gone from the database; this node sealed up to seq %d (%s): "
            "new records are sealed after it, so the gap shows in the chain",
            seq,
            seen.seq,
            head.path,
        )
        return seen.seq, seen.hash, False
    if not await _witness_still_in_chain(s, anchor, seen):
        log.error(
            "the audit record with seq %d differs from the one this node sealed (%s): the chain was rewritten; "
            "the head file is kept as evidence",
            seen.seq,
            head.path,
        )
        return seq, prev, True
    return seq, prev, False


def _read_quietly(head: HeadFile | None) -> Head | None:
    if head is None:
        return None
    try:
        return head.read()
    except HeadFileError as exc:
        log.error("%s; sealing goes on without it", exc)
        return None


async def _sealed(
    db: async_sessionmaker[AsyncSession], after_seq: int, until: dt.datetime | None = None
) -> AsyncIterator[ChainRecord]:
    """Sealed records in chain order, read in batches (the trail may hold millions)."""
    last = after_seq
    while True:
        async with db() as s:
            query = select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(SEAL_BATCH)
            rows = (await s.execute(query)).scalars().all()
        if not rows:
            return
        for r in rows:
            if until is not None and r.ts >= until:
                return
            yield ChainRecord(
                r.id,
                int(r.seq or 0),
                r.ts,
                r.kind,
                r.outcome,
                r.actor,
                r.subject,
                r.address,
                r.details,
                r.prev_hash or "",
                r.hash or "",
            )
        last = int(rows[-1].seq or 0)


async def verify_chain(
    db: async_sessionmaker[AsyncSession], head: HeadFile | None = None, expect: Sequence[Head] = ()
) -> VerifyResult:
    """Verify the whole chain, its anchor, and that the head recorded in `head` and every head in
    `expect` (e.g. the last record the SIEM received) are in it. Raises HeadFileError if the head
    file exists but cannot be read."""
    await seal(db, head)
    witnesses = [("the head this node recorded" + (f" ({head.path})" if head else ""), h) for h in _recorded(head)]
    witnesses += [("--expect-head", h) for h in expect]
    async with db.begin() as s:
        anchor = await _anchor(s)
        anchor_seq, anchor_hash = anchor.last_seq, anchor.last_hash
    records = [r async for r in _sealed(db, anchor_seq)]
    result = verify(records, anchor_seq, anchor_hash, witnesses)
    if result.head is None:  # broken before the end: still print the newest record, for comparison
        newest = Head(records[-1].seq, records[-1].hash) if records else Head(anchor_seq, anchor_hash)
        result = dataclasses.replace(result, head=newest)
    return result


def _recorded(head: HeadFile | None) -> list[Head]:
    recorded = head.read() if head is not None else None
    return [recorded] if recorded is not None else []


async def records_between(
    db: async_sessionmaker[AsyncSession],
    start: dt.datetime | None,
    end: dt.datetime | None,
    head: HeadFile | None = None,
) -> AsyncIterator[ChainRecord]:
    await seal(db, head)
    async for r in _sealed(db, 0):
        if start is not None and r.ts < start:
            continue
        if end is not None and r.ts >= end:
            continue
        yield r


async def purge_before(
    db: async_sessionmaker[AsyncSession], cutoff: dt.datetime, actor: str | None, head: HeadFile | None = None
) -> int:
    """Delete the chain's oldest records (those before `cutoff`), keeping the chain verifiable:
    the last deleted record's seq and hash become the anchor the remaining chain starts from, and
    the purge's own record names that anchor (`verify` refuses an anchor no purge record names)."""
    await seal(db, head)
    async with db.begin() as s:
        anchor = await _anchor(s)
        # Only a prefix of the chain can go: stop at the first record that is not old enough.
        first_young = (
            await s.execute(
                select(func.min(AuditEvent.seq)).where(AuditEvent.seq.is_not(None), AuditEvent.ts >= cutoff)
            )
        ).scalar()
        limit_seq = (
            (int(first_young) - 1)
            if first_young is not None
            else (await s.execute(select(func.max(AuditEvent.seq)))).scalar()
        )
        if limit_seq is None or limit_seq <= anchor.last_seq:
            count = 0
        else:
            last = (await s.execute(select(AuditEvent.hash).where(AuditEvent.seq == limit_seq))).scalar_one()
            result = await s.execute(delete(AuditEvent).where(AuditEvent.seq <= limit_seq))
            count = rowcount(result)
            anchor.last_seq, anchor.last_hash = int(limit_seq), str(last)
            anchor.purged_count += count
            anchor.purged_at = utcnow()
        s.add(
            event(
                PURGE_KIND,
                "ok",
                actor=actor,
                cutoff=cutoff.isoformat(),
                deleted=count,
                anchor_seq=anchor.last_seq,
                anchor_hash=anchor.last_hash,
            )
        )
    await seal(db, head)
    return count


async def run_sealer(
    db: async_sessionmaker[AsyncSession],
    after_seal: Callable[[], Awaitable[None]] | None = None,
    head: HeadFile | None = None,
) -> None:
    """Background task of a gateway node: seal new records about once a second."""
    while True:
        try:
            if await seal(db, head) and after_seal is not None:
                await after_seal()
        except Exception:
            log.exception("sealing the audit trail failed")
        await asyncio.sleep(SEAL_INTERVAL)
