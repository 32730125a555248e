"""Bulk actions from the console's lists: one operation applied to many rows.

Each row is changed in its own transaction by the single-row operation of this package (so its
safety rules hold unchanged: the last administrator stays enabled, a session already ended is left
alone…), and audited by it; one `bulk_action` event then records the kind and the counts. A row
refused does not stop the others; the caller shows which rows were refused and why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.i18n import N_

from .. import audit
from ..db.models import Assignment, Terminal, User
from .accounts import department_name, set_disabled, update_user
from .assignments import assign, unassign
from .errors import AdminError
from .sessions import record_session_end
from .terminals import revoke_terminal

Db = async_sessionmaker[AsyncSession]
RoleCheck = Callable[[str], bool]  # may the actor change an account of this role?


@dataclass
class Refusal:
    row_id: str
    msgid: str
    values: dict[str, Any]


@dataclass
class BulkResult:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already as asked
    refused: list[Refusal] = field(default_factory=list)
    after: list[Any] = field(default_factory=list)  # what the caller does once committed (sessions to close)


@dataclass(frozen=True)
class BulkActor:
    id: str
    address: str | None


Operation = Callable[[AsyncSession, str], Awaitable[bool]]


async def run(db: Db, kind: str, ids: Sequence[str], actor: BulkActor, operation: Operation) -> BulkResult:
    """`operation(s, row_id)` for each row in a transaction of its own (True: changed; False:
    already so; AdminError: refused, nothing of that row written), then the summary event."""
    result = BulkResult()
    for row_id in ids:
        try:
            async with db.begin() as s:
                changed = await operation(s, row_id)
        except AdminError as exc:
            result.refused.append(Refusal(row_id, exc.msgid, exc.values))
            continue
        (result.changed if changed else result.unchanged).append(row_id)
    async with db.begin() as s:
        s.add(
            audit.event(
                "bulk_action",
                "ok" if not result.refused else "error",
                actor=actor.id,
                address=actor.address,
                action=kind,
                count=len(result.changed),
                unchanged=len(result.unchanged),
                refused=len(result.refused),
            )
        )
    return result


async def _account(s: AsyncSession, login_id: str, may: RoleCheck) -> User:
    row = await s.get(User, login_id)
    if row is None:
        raise AdminError(N_("There is no staff account “{value}”."), value=login_id[:80])
    if not may(row.role):
        raise AdminError(N_("Your role may not change the account “{value}”."), value=login_id)
    return row


async def set_staff_disabled(
    db: Db, ids: Sequence[str], disabled: bool, actor: BulkActor, may: RoleCheck
) -> BulkResult:
    """Disable (their web sessions end; the caller closes their live sessions) or enable accounts."""

    async def one(s: AsyncSession, login_id: str) -> bool:
        row = await _account(s, login_id, may)
        if disabled and login_id == actor.id:
            raise AdminError(N_("You cannot disable your own account."))
        if row.disabled == disabled:
            return False
        await set_disabled(s, login_id, disabled, actor.id, address=actor.address)
        return True

    return await run(db, "staff_disable" if disabled else "staff_enable", ids, actor, one)


async def move_staff(db: Db, ids: Sequence[str], department: str, actor: BulkActor, may: RoleCheck) -> BulkResult:
    """Move accounts to `department` (created if new, as in the account form); name and role kept."""

    async def one(s: AsyncSession, login_id: str) -> bool:
        row = await _account(s, login_id, may)
        if await department_name(s, row.department_id) == department:
            return False
        return await update_user(
            s,
            login_id,
            display_name=row.display_name,
            department=department,
            role=row.role,
            actor=actor.id,
            address=actor.address,
        )

    return await run(db, "staff_move", ids, actor, one)


async def end_sessions(
    db: Db, ids: Sequence[str], message: str, hold_minutes: int, actor: BulkActor, kind: str = "sessions_end"
) -> BulkResult:
    """Record an administrator's end (reason shown to the staff member, reconnect hold) for each
    session; `after` lists (session id, node) for the caller to close once committed."""
    result_after: list[tuple[str, str | None]] = []

    async def one(s: AsyncSession, session_id: str) -> bool:
        ended = await record_session_end(s, session_id, message, hold_minutes, actor.id, address=actor.address)
        if ended is None:
            return False
        result_after.append((session_id, ended.node_id))
        return True

    result = await run(db, kind, ids, actor, one)
    result.after = list(result_after)
    return result


async def assign_pcs(db: Db, host_ids: Sequence[str], login_id: str, actor: BulkActor) -> BulkResult:
    async def one(s: AsyncSession, host_id: str) -> bool:
        return await assign(s, login_id, host_id, actor.id, address=actor.address)

    return await run(db, "pcs_assign", host_ids, actor, one)


async def unassign_pcs(db: Db, host_ids: Sequence[str], login_id: str | None, actor: BulkActor) -> BulkResult:
    """Remove `login_id`'s assignment of each PC, or (None) every assignment of each PC."""

    async def one(s: AsyncSession, host_id: str) -> bool:
        if login_id is not None:
            return await unassign(s, login_id, host_id, actor.id, address=actor.address)
        users = (await s.execute(select(Assignment.user_id).where(Assignment.host_id == host_id))).scalars().all()
        for user_id in users:
            await unassign(s, user_id, host_id, actor.id, address=actor.address)
        return bool(users)

    return await run(db, "pcs_unassign" if login_id is not None else "pcs_unassign_all", host_ids, actor, one)


async def revoke_terminals(db: Db, terminal_ids: Sequence[str], reason: str, actor: BulkActor) -> BulkResult:
    async def one(s: AsyncSession, terminal_id: str) -> bool:
        row = await s.get(Terminal, terminal_id)
        if row is not None and row.state == "revoked":
            return False
        await revoke_terminal(s, terminal_id, reason, actor.id, address=actor.address)
        return True

    return await run(db, "terminals_revoke", terminal_ids, actor, one)
