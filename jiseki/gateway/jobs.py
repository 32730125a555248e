"""Background jobs (models.Job): CSV imports applied in chunks, resumable by any gateway node.

A confirmed preview becomes a job (`queued`). The node that took the confirmation claims it and runs
it as an asyncio task; rows are applied in chunks of `CHUNK`, each in one transaction that also
advances `done`, renews the heartbeat and appends the rows' outcomes, so a job stopped half-way (the
node crashed or was restarted) has lost nothing and resumes from `done`. Every node looks every
`SWEEP_SECONDS` for jobs whose heartbeat is older than `STALE` and claims them with ONE conditional
UPDATE (state and heartbeat in its WHERE): of two nodes, exactly one wins. A chunk's transaction
updates the job only WHERE node_id is still this node, so a node that lost its claim rolls back.

The initial passwords of created accounts are kept sealed (the TOTP SecretBox) in `secret_result`,
handed out once (`take_secret`), and erased with the job when it expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import admin, audit
from .admin.staff_import import outcome
from .assignments_csv import AssignmentRow, parse_assignments_csv
from .auth.totp import SecretBox
from .auth.users_csv import RowError, StaffRow, parse_staff_csv
from .db.models import AuditEvent, Job, User, utcnow
from .db.results import rowcount
from .pcs_csv import PcRow, parse_pcs_csv
from .permissions import Action, allowed, grantable_roles
from .scope import Scope, scope_of

log = logging.getLogger(__name__)

CHUNK = 200  # rows per transaction
STALE = dt.timedelta(seconds=30)  # a running job without a heartbeat for this long is taken over
SWEEP_SECONDS = 10.0
LIFETIME = dt.timedelta(hours=24)  # then the job, its results and any passwords not taken are deleted
CHUNK_TRIES = 5  # a chunk that met a busy database is tried again (it was rolled back whole)
KINDS = ("staff", "assignments", "pcs")

Item = tuple[int, Any, list[RowError]]  # line, the row (None for a line with errors), its errors


@dataclass
class Context:
    job_id: str
    actor: str
    role: str
    scope: Scope
    address: str | None
    filename: str
    allowed_roles: frozenset[str]
    departments: dict[str, int] = field(default_factory=dict)


class Work(Protocol):
    def items(self, content: str) -> list[Item]: ...

    async def apply(
        self, s: AsyncSession, chunk: list[Item], ctx: Context
    ) -> tuple[list[dict[str, Any]], list[list[str]]]: ...

    def finish(self, ctx: Context, rows: list[dict[str, Any]]) -> AuditEvent: ...


def _items(rows: list[Any], errors: list[RowError]) -> list[Item]:
    by_line: dict[int, Item] = {r.line: (r.line, r, []) for r in rows}
    for e in errors:
        by_line.setdefault(e.line, (e.line, None, []))[2].append(e)
    return [by_line[line] for line in sorted(by_line)]


def _split(chunk: list[Item]) -> tuple[list[Any], list[RowError]]:
    return [r for _l, r, _e in chunk if r is not None], [e for _l, _r, errs in chunk for e in errs]


class StaffWork:
    def items(self, content: str) -> list[Item]:
        return _items(*parse_staff_csv(content))

    async def apply(
        self, s: AsyncSession, chunk: list[Item], ctx: Context
    ) -> tuple[list[dict[str, Any]], list[list[str]]]:
        rows, errors = _split(chunk)
        staff: list[StaffRow] = rows
        plan = await admin.plan_staff_rows(s, staff, errors, allowed_roles=ctx.allowed_roles, scope=ctx.scope)
        applied = await admin.apply_staff_plan(s, plan, ctx.departments)
        created = [[c.login_id, c.display_name, c.department, c.password] for c in applied.created]
        return applied.outcomes, created

    def finish(self, ctx: Context, rows: list[dict[str, Any]]) -> AuditEvent:
        return admin.import_event(ctx.actor, ctx.address, rows, job=ctx.job_id, filename=ctx.filename)


class AssignmentsWork:
    def items(self, content: str) -> list[Item]:
        return _items(*parse_assignments_csv(content))

    async def apply(
        self, s: AsyncSession, chunk: list[Item], ctx: Context
    ) -> tuple[list[dict[str, Any]], list[list[str]]]:
        rows, errors = _split(chunk)
        pairs: list[AssignmentRow] = rows
        checked = await admin.check_assignments(s, pairs, errors, ctx.scope)
        await admin.apply_assignments(s, checked, ctx.actor, address=ctx.address)
        out = [outcome(r.line, r.login_id, r.action, values={"host": r.host_id}) for r in checked.valid]
        out += [outcome(r.line, r.login_id, "unchanged", values={"host": r.host_id}) for r in checked.unchanged]
        out += [outcome(e.line, e.record[0] if e.record else "", "error", e.msgid, e.values) for e in checked.errors]
        return sorted(out, key=lambda o: int(o["line"])), []

    def finish(self, ctx: Context, rows: list[dict[str, Any]]) -> AuditEvent:
        changed = sum(1 for r in rows if r["outcome"] in ("assign", "remove"))
        return audit.event(
            "assignments_imported",
            "ok",
            actor=ctx.actor,
            address=ctx.address,
            job=ctx.job_id,
            filename=ctx.filename,
            changed=changed,
            unchanged=sum(1 for r in rows if r["outcome"] == "unchanged"),
            errors=len({r["line"] for r in rows if r["outcome"] == "error"}),
        )


class PcsWork:
    def items(self, content: str) -> list[Item]:
        return _items(*parse_pcs_csv(content))

    async def apply(
        self, s: AsyncSession, chunk: list[Item], ctx: Context
    ) -> tuple[list[dict[str, Any]], list[list[str]]]:
        rows, errors = _split(chunk)
        pcs: list[PcRow] = rows
        plan = await admin.plan_pc_rows(s, pcs, errors)
        return await admin.apply_pc_plan(s, plan, ctx.actor, address=ctx.address), []

    def finish(self, ctx: Context, rows: list[dict[str, Any]]) -> AuditEvent:
        counts = counts_of(rows)
        return audit.event(
            "pcs_imported",
            "ok",
            actor=ctx.actor,
            address=ctx.address,
            job=ctx.job_id,
            filename=ctx.filename,
            counts=counts,
        )


WORKS: dict[str, Work] = {"staff": StaffWork(), "assignments": AssignmentsWork(), "pcs": PcsWork()}
# The right a job's importer must still have when it runs (the confirmation checked it too).
ACTIONS = {"staff": Action.STAFF_IMPORT, "assignments": Action.ASSIGN, "pcs": Action.PC_IMPORT}


async def create(
    s: AsyncSession, kind: str, actor: str, filename: str, content: str, *, address: str | None = None
) -> str:
    """A queued job for a confirmed preview (`content` was checked when staged)."""
    assert kind in WORKS
    now = utcnow()
    job_id = secrets.token_hex(16)
    s.add(
        Job(
            id=job_id,
            kind=kind,
            actor=actor,
            state="queued",
            filename=filename[:255],
            content=content,
            options=json.dumps({"address": address}),
            total=len(WORKS[kind].items(content)),
            done=0,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return job_id


async def claim(db: async_sessionmaker[AsyncSession], job_id: str, node_id: str) -> bool:
    """Take a queued job, or a running one whose node stopped beating: one conditional UPDATE."""
    now = utcnow()
    async with db.begin() as s:
        result = await s.execute(
            update(Job)
            .where(
                Job.id == job_id,
                or_(Job.state == "queued", and_(Job.state == "running", Job.heartbeat_at < now - STALE)),
            )
            .values(state="running", node_id=node_id, heartbeat_at=now, started_at=func.coalesce(Job.started_at, now))
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1


class _Lost(Exception):
    """Another node took the job over (this one was thought dead)."""


@dataclass
class Runner:
    """This node's jobs: started at confirmation, or taken over from a node that stopped."""

    db: async_sessionmaker[AsyncSession]
    box: SecretBox
    node_id: str
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def start(self, job_id: str) -> None:
        if job_id not in self.tasks:
            task = asyncio.create_task(self.run(job_id))
            self.tasks[job_id] = task
            task.add_done_callback(lambda _t: self.tasks.pop(job_id, None))

    async def claim_and_start(self, job_id: str) -> bool:
        if await claim(self.db, job_id, self.node_id):
            self.start(job_id)
            return True
        return False

    def cancel_all(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()

    async def sweep(self) -> list[str]:
        """Claim stale jobs (and queued ones nobody started), erase expired ones; the ids claimed."""
        now = utcnow()
        async with self.db.begin() as s:
            await s.execute(delete(Job).where(Job.expires_at < now, Job.state.in_(("done", "failed"))))
            await s.execute(update(Job).where(Job.expires_at < now).values(secret_result=None))
            candidates = list(
                (
                    await s.execute(
                        select(Job.id).where(
                            or_(
                                and_(Job.state == "running", Job.heartbeat_at < now - STALE),
                                and_(Job.state == "queued", Job.created_at < now - STALE),
                            )
                        )
                    )
                ).scalars()
            )
        claimed = []
        for job_id in candidates:
            if job_id not in self.tasks and await self.claim_and_start(job_id):
                log.info("job %s taken over by node %s", job_id, self.node_id)
                claimed.append(job_id)
        return claimed

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("the job sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    async def run(self, job_id: str) -> None:
        try:
            await self._run(job_id)
        except _Lost:
            log.warning("job %s was taken over by another node", job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s failed", job_id)
            async with self.db.begin() as s:
                await s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.node_id == self.node_id)
                    .values(state="failed", finished_at=utcnow())
                )

    async def _context(self, job: Job) -> Context | None:
        async with self.db() as s:
            actor = await s.get(User, job.actor)
            scope = await scope_of(s, job.actor)
        action = ACTIONS[job.kind]
        delegated = not scope.everything
        if actor is None or actor.disabled or not allowed(actor.role, action, delegated):
            return None  # the importer lost the right meanwhile
        options = json.loads(job.options or "{}")
        return Context(
            job.id,
            actor.id,
            actor.role,
            scope,
            options.get("address"),
            job.filename,
            frozenset(grantable_roles(actor.role, delegated)),  # as the preview offered them
        )

    async def _run(self, job_id: str) -> None:
        async with self.db() as s:
            job = await s.get(Job, job_id)
        if job is None or job.state != "running" or job.node_id != self.node_id:
            return
        work = WORKS[job.kind]
        ctx = await self._context(job)
        if ctx is None:
            raise PermissionError(f"the importer {job.actor} may no longer run job {job_id}")
        items = work.items(job.content)
        rows: list[dict[str, Any]] = json.loads(job.result)["rows"] if job.result else []
        created: list[list[str]] = json.loads(self.box.open(job.secret_result)) if job.secret_result else []
        done = job.done
        while done < len(items):
            chunk = items[done : done + CHUNK]
            new_rows, new_created = await self._chunk(job_id, work, ctx, chunk, rows, created, done)
            rows, created, done = rows + new_rows, created + new_created, done + len(chunk)
            await asyncio.sleep(0)  # the relay and the pages go on between chunks
        async with self.db.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.id == job_id, Job.node_id == self.node_id, Job.state == "running")
                .values(
                    state="done",
                    finished_at=utcnow(),
                    heartbeat_at=utcnow(),
                    result=json.dumps({"rows": rows, "counts": counts_of(rows)}, ensure_ascii=False),
                )
            )
            if rowcount(result) != 1:
                raise _Lost()
            s.add(work.finish(ctx, rows))

    async def _chunk(
        self,
        job_id: str,
        work: Work,
        ctx: Context,
        chunk: list[Item],
        rows: list[dict[str, Any]],
        created: list[list[str]],
        done: int,
    ) -> tuple[list[dict[str, Any]], list[list[str]]]:
        for attempt in range(CHUNK_TRIES):
            known = dict(ctx.departments)
            try:
                async with self.db.begin() as s:
                    new_rows, new_created = await work.apply(s, chunk, ctx)
                    values: dict[str, Any] = {
                        "done": done + len(chunk),
                        "heartbeat_at": utcnow(),
                        "result": json.dumps({"rows": rows + new_rows}, ensure_ascii=False),
                    }
                    if new_created:
                        values["secret_result"] = self.box.seal(json.dumps(created + new_created, ensure_ascii=False))
                    result = await s.execute(
                        update(Job)
                        .where(Job.id == job_id, Job.node_id == self.node_id, Job.state == "running")
                        .values(**values)
                    )
                    if rowcount(result) != 1:
                        raise _Lost()
                return new_rows, new_created
            except OperationalError:  # SQLite busy: the chunk was rolled back whole; try again
                ctx.departments = known
                if attempt == CHUNK_TRIES - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")


def counts_of(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        key = r["outcome"] if r["outcome"] != "error" else "error"
        counts[key] = counts.get(key, 0) + 1
    return counts


async def visible_job(s: AsyncSession, job_id: str, actor: str, full_admin: bool) -> Job | None:
    """The job if this console user may see it (its importer, or a main administrator); else None (404)."""
    if len(job_id) != 32:
        return None
    job = await s.get(Job, job_id)
    if job is None or (job.actor != actor and not full_admin):
        return None
    return job


async def take_secret(
    db: async_sessionmaker[AsyncSession], box: SecretBox, job_id: str, actor: str
) -> list[list[str]] | None:
    """The initial passwords of a finished job, once, to its importer: the row is locked and read by
    one conditional UPDATE (…WHERE secret_result IS NOT NULL RETURNING), then erased in the same
    transaction. Of two downloads racing, the second waits for the first and finds nothing."""
    async with db.begin() as s:
        sealed = (
            await s.execute(
                update(Job)
                .where(Job.id == job_id, Job.actor == actor, Job.state == "done", Job.secret_result.is_not(None))
                .values(secret_result=Job.secret_result)
                .returning(Job.secret_result)
            )
        ).scalar_one_or_none()
        if sealed is None:
            return None
        await s.execute(update(Job).where(Job.id == job_id).values(secret_result=None))
    taken: list[list[str]] = json.loads(box.open(sealed))
    return taken
