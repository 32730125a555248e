"""Run a directory synchronisation: read the people, plan (`plan.py`), apply, record.

A run is one `DirectoryRun` row (trigger, actor, state, counts JSON, error) and ONE audit event
(`directory_synced`: the counts and the login IDs changed per kind, kept whole as the staff import's
`users_imported`). A dry run plans and records, and changes no account.

Only one node synchronises at a time: a run is claimed by inserting its row with ONE conditional
statement (INSERT … SELECT … WHERE NOT EXISTS a fresh running run; PostgreSQL takes a transaction
advisory lock first, so that two READ COMMITTED inserts cannot both see none). A running row older
than `STALE` (its node stopped) no longer blocks, and is marked failed by the next claim.

Applying goes through the single-row helpers of `jiseki.gateway.admin.accounts` (`change_profile`,
`change_disabled`, `department_id`), so their rules hold: the last organisation-wide administrator
stays, a role change or a disable ends the person's web sessions. `CHUNK` changes per transaction.
The caller ends the live remote sessions of the accounts disabled (`RunResult.disabled`) once the
run is committed (`close_live_sessions`); a node that did not run it sees the account disabled at
its next authority check (`jiseki.gateway.authority`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, exists, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.config_directory import DirectoryConfig
from jiseki.i18n import N_

from .. import audit
from ..admin.accounts import change_disabled, change_profile, department_id, departments_by_name
from ..admin.errors import AdminError
from ..db.models import AdminScope, Department, DirectoryRun, User, utcnow
from ..end_reasons import EndReason
from .plan import KINDS, Account, Change, Fields, Plan, plan_sync

if TYPE_CHECKING:
    from .client import Listing

log = logging.getLogger(__name__)

CHUNK = 200  # changes per transaction
STALE = dt.timedelta(minutes=30)  # a running run older than this was left by a node that stopped
MAX_ERROR = 2000
SCHEDULE_POLL = 60.0  # seconds between two looks whether a scheduled run is due
TRIGGERS = ("schedule", "manual", "cli")
_CLAIM_LOCK = 0x6A69_7365_0018  # PostgreSQL advisory lock: claims of a directory run, one at a time

Db = async_sessionmaker[AsyncSession]
Fetch = Callable[[DirectoryConfig], Awaitable["Listing"]]


class Busy(Exception):
    """Another synchronisation is running (on this node or another)."""


class Broker(Protocol):
    async def close_user_sessions(self, user_id: str, reason: str, terminal_id: str | None = None) -> None: ...


@dataclass
class RunResult:
    run_id: int
    state: str  # done / failed
    plan: Plan | None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    applied: set[str] = field(default_factory=set)  # login IDs whose change is committed
    disabled: list[str] = field(default_factory=list)  # whose live sessions the caller ends
    refused: list[tuple[str, str]] = field(default_factory=list)  # (login ID, msgid) refused when applied


def fields_of(config: DirectoryConfig) -> Fields:
    return Fields(
        roles=bool(config.role_groups), readings=bool(config.reading_attribute), emails=bool(config.mail_attribute)
    )


async def default_fetch(config: DirectoryConfig) -> Listing:
    from .client import fetch_listing  # ldap3, loaded only when a directory is read

    return await fetch_listing(config)


async def snapshot(s: AsyncSession) -> list[Account]:
    """Every account (a prefecture's few thousand), light: one query."""
    scoped = exists().where(AdminScope.user_id == User.id)
    query = select(
        User.id,
        User.display_name,
        User.reading,
        Department.name,
        User.role,
        User.disabled,
        User.source,
        User.directory_dn,
        ~scoped,
        User.email,
    ).outerjoin(Department, Department.id == User.department_id)
    return [
        Account(i, name, reading, dept or "", role, bool(disabled), source, dn, bool(unscoped), email)
        for i, name, reading, dept, role, disabled, source, dn, unscoped, email in (await s.execute(query)).all()
    ]


async def claim(db: Db, trigger: str, actor: str | None, node_id: str | None, dry_run: bool) -> int | None:
    """Insert this run's row as running, unless a real run is running and fresh: the run's id, or None.
    A dry run changes nothing and is never refused."""
    now = utcnow()
    values = {
        "trigger": trigger,
        "actor": actor,
        "dry_run": dry_run,
        "state": "running",
        "node_id": node_id,
        "started_at": now,
    }
    async with db.begin() as s:
        if dry_run:
            run = DirectoryRun(**values)
            s.add(run)
            await s.flush()
            return run.id
        if s.get_bind().dialect.name == "postgresql":
            await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
        running = exists().where(
            DirectoryRun.state == "running", ~DirectoryRun.dry_run, DirectoryRun.started_at > now - STALE
        )
        columns = list(values)
        chosen = select(*(literal(v, type_=DirectoryRun.__table__.c[k].type) for k, v in values.items())).where(
            ~running
        )
        result = await s.execute(
            insert(DirectoryRun).from_select(columns, chosen).returning(DirectoryRun.id),
        )
        run_id = result.scalar_one_or_none()
        if run_id is None:
            return None
        stale = and_(DirectoryRun.state == "running", DirectoryRun.started_at <= now - STALE)
        await s.execute(
            update(DirectoryRun)
            .where(stale)
            .values(state="failed", error="abandoned: the node running it stopped", finished_at=now)
        )
        return int(run_id)


async def _finish(db: Db, result: RunResult, actor: str | None, address: str | None, trigger: str, dry: bool) -> None:
    details: dict[str, Any] = {"run": result.run_id, "trigger": trigger, "dry_run": dry, "counts": result.counts}
    if result.plan is not None:  # a dry run: what it would change; a run: what it changed
        ids = {k: [c.login_id for c in result.plan.of(k) if dry or c.login_id in result.applied] for k in KINDS}
        details["login_ids"] = {k: v for k, v in ids.items() if v}
        notes: dict[str, list[str]] = {}
        for note in result.plan.notes:
            notes.setdefault(note.kind, []).append(note.login_id or note.detail)
        if notes:
            details["notes"] = notes
    if result.refused:
        details["refused"] = dict(result.refused)
    if result.error:
        details["error"] = result.error
    async with db.begin() as s:
        await s.execute(
            update(DirectoryRun)
            .where(DirectoryRun.id == result.run_id)
            .values(
                state=result.state,
                counts=json.dumps(result.counts, sort_keys=True),
                error=result.error,
                finished_at=utcnow(),
            )
        )
        outcome = "ok" if result.state == "done" else "error"
        event = audit.event("directory_synced", outcome, actor=actor, address=address)
        event.details = json.dumps(details, ensure_ascii=False, default=str, sort_keys=True)  # kept whole
        s.add(event)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]


async def run_sync(
    db: Db,
    config: DirectoryConfig,
    *,
    trigger: str,
    actor: str | None = None,
    node_id: str | None = None,
    dry_run: bool = False,
    address: str | None = None,
    fetch: Fetch = default_fetch,
) -> RunResult:
    """One run, recorded whatever happens. Busy when another real run holds the claim."""
    run_id = await claim(db, trigger, actor, node_id, dry_run)
    if run_id is None:
        raise Busy
    result = RunResult(run_id, "failed", None)
    try:
        listing = await fetch(config)
        async with db() as s:
            accounts = await snapshot(s)
        plan = plan_sync(listing.people, accounts, fields_of(config), listing.skipped)
        result.plan = plan
        if not dry_run:
            await _apply(db, plan, config, result)
        result.state = "done"
    except Exception as exc:  # the directory down, too many entries, the database: recorded, then said
        log.warning("directory synchronisation %d failed: %s", run_id, exc)
        result.error = _error_text(exc)
    except asyncio.CancelledError:  # the node stopping: recorded, so that the next run need not wait for STALE
        result.error = "cancelled: the gateway stopped during the run"
        await asyncio.shield(_record(db, result, actor, address, trigger, dry_run))
        raise
    await _record(db, result, actor, address, trigger, dry_run)
    return result


async def _record(db: Db, result: RunResult, actor: str | None, address: str | None, trigger: str, dry: bool) -> None:
    counts = result.plan.counts() if result.plan is not None else {}
    counts["refused"] = len(result.refused)
    result.counts = counts
    await _finish(db, result, actor, address, trigger, dry)


def _unusable_hash() -> str:
    """Never verifies (not an argon2 hash): a directory account signs in through the directory."""
    return "!directory:" + secrets.token_hex(16)


async def _apply(db: Db, plan: Plan, config: DirectoryConfig, result: RunResult) -> None:
    order = {kind: i for i, kind in enumerate(("create", "enable", "update", "disable"))}  # admins made first
    changes = sorted(plan.changes, key=lambda c: order[c.kind])
    async with db() as s:
        known = await departments_by_name(s)
    for start in range(0, len(changes), CHUNK):
        chunk = changes[start : start + CHUNK]
        disabled: list[str] = []
        refused: list[tuple[str, str]] = []
        async with db.begin() as s:
            ids = [c.login_id for c in chunk if c.kind != "create"]
            rows = {u.id: u for u in (await s.execute(select(User).where(User.id.in_(ids)))).scalars()}
            for change in chunk:
                try:  # a refusal (the last administrator) is raised before its row is written
                    await _apply_one(s, change, rows.get(change.login_id), config, known)
                except AdminError as exc:
                    refused.append((change.login_id, exc.msgid))
                    continue
                if change.kind == "disable":
                    disabled.append(change.login_id)
        result.disabled += disabled
        result.refused += refused
        result.applied |= {c.login_id for c in chunk} - {i for i, _m in refused}


async def _apply_one(
    s: AsyncSession, change: Change, row: User | None, config: DirectoryConfig, known: dict[str, int]
) -> None:
    now = utcnow()
    after = change.after
    if change.kind == "create":
        s.add(
            User(
                id=change.login_id,
                display_name=after["display_name"],
                reading=after.get("reading"),
                department_id=await department_id(s, after.get("department") or "", known),
                role=after.get("role") or "staff",
                password_hash=_unusable_hash(),
                source="directory",
                local_password=config.local_password == "allowed",  # noqa: S105 - a setting, not a password
                directory_dn=change.dn,
                directory_synced_at=now,
                email=after.get("email"),
            )
        )
        await s.flush()
        return
    if row is None or row.source != "directory":  # gone or made local since the plan
        raise AdminError(N_("There is no staff account “{value}”."), value=change.login_id)
    if change.kind == "disable":
        if not row.disabled:
            await change_disabled(s, row, True)
    else:
        if after:
            dept = after.get("department")
            await change_profile(
                s,
                row,
                after.get("display_name") or row.display_name,
                await department_id(s, dept, known) if dept is not None else row.department_id,
                after.get("role") or row.role,
                reading=after.get("reading"),
                set_reading="reading" in after,
                email=after.get("email"),
                set_email="email" in after,
            )
        if change.kind == "enable":
            await change_disabled(s, row, False)
    row.directory_dn = change.dn
    row.directory_synced_at = now
    await s.flush()


async def close_live_sessions(broker: Broker, login_ids: Sequence[str]) -> None:
    """End the live remote sessions of the accounts a run disabled, on every node."""
    for login_id in login_ids:
        try:
            await broker.close_user_sessions(login_id, EndReason.ACCOUNT_DISABLED)
        except Exception:  # one failure must not keep the others' sessions open
            log.exception("could not end the sessions of %s", login_id)


async def last_runs(s: AsyncSession, limit: int = 20) -> list[DirectoryRun]:
    query = select(DirectoryRun).order_by(DirectoryRun.started_at.desc(), DirectoryRun.id.desc()).limit(limit)
    return list((await s.execute(query)).scalars())


async def due(db: Db, interval: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """Is a scheduled run due: no real run (on any node) started within `interval`?"""
    now = now or utcnow()
    query = select(DirectoryRun.id).where(~DirectoryRun.dry_run, DirectoryRun.started_at > now - interval).limit(1)
    async with db() as s:
        return (await s.execute(query)).first() is None


async def run_on_schedule(
    db: Db, config: DirectoryConfig, broker: Broker, node_id: str, fetch: Fetch = default_fetch
) -> None:
    """The gateway's background task (`sync_interval_minutes` > 0): every node looks every
    `SCHEDULE_POLL` seconds whether a run is due; the claim lets one of them run it."""
    interval = dt.timedelta(minutes=config.sync_interval_minutes)
    while True:
        try:
            if await due(db, interval):
                result = await run_sync(db, config, trigger="schedule", node_id=node_id, fetch=fetch)
                await close_live_sessions(broker, result.disabled)
        except Busy:
            pass
        except Exception:
            log.exception("scheduled directory synchronisation failed")
        await asyncio.sleep(min(SCHEDULE_POLL, interval.total_seconds()))
