"""Which staff may operate which office PC: one by one and by CSV.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit, hosts
from ..assignments_csv import AssignmentRow
from ..auth.users_csv import RowError
from ..db.models import Assignment, Host, User
from ..scope import WHOLE, Scope
from .errors import AdminError


async def assign(
    s: AsyncSession, login_id: str, host_id: str, actor: str | None, *, address: str | None = None
) -> bool:
    """Let `login_id` use `host_id`; False if it already could."""
    try:
        added = await hosts.assign(s, login_id, host_id)
    except LookupError:
        if await s.get(User, login_id) is None:
            raise AdminError(N_("There is no staff account “{value}”."), value=login_id[:80]) from None
        raise AdminError(N_("There is no office PC “{value}”."), value=host_id[:80]) from None
    if added:
        s.add(
            audit.change(
                "assigned", actor=actor, subject=host_id, before=None, after={"user": login_id}, address=address
            )
        )
    return added


async def unassign(
    s: AsyncSession, login_id: str, host_id: str, actor: str | None, *, address: str | None = None
) -> bool:
    if await s.get(Assignment, (login_id, host_id)) is None:
        return False
    await hosts.unassign(s, login_id, host_id)
    s.add(
        audit.change("unassigned", actor=actor, subject=host_id, before={"user": login_id}, after=None, address=address)
    )
    return True


@dataclass(frozen=True)
class AssignmentCheck:
    valid: list[AssignmentRow]
    unchanged: list[AssignmentRow]  # already as asked (assigned, or not assigned for a removal)
    errors: list[RowError]


async def check_assignments(
    s: AsyncSession, rows: list[AssignmentRow], errors: list[RowError], scope: Scope = WHOLE
) -> AssignmentCheck:
    """Which rows would change something, which change nothing, and which name unknown staff or PCs.

    With a delegated `scope` (所掌範囲), staff and PCs outside it are unknown: both sides of an
    assignment must be in scope, and the answer does not tell whether the other exists."""
    errors = list(errors)
    user_ids, host_ids = {r.login_id for r in rows}, {r.host_id for r in rows}
    known_users: set[str] = set()
    known_hosts: set[str] = set()
    current: set[tuple[str, str]] = set()
    sides = ((user_ids, User.id, scope.users(), known_users), (host_ids, Host.id, scope.hosts(), known_hosts))
    for ids, column, in_scope, into in sides:
        listed = sorted(ids)
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            into |= set((await s.execute(select(column).where(column.in_(chunk), in_scope))).scalars())
    listed_users = sorted(user_ids & known_users)
    for start in range(0, len(listed_users), 500):
        query = select(Assignment.user_id, Assignment.host_id).where(
            Assignment.user_id.in_(listed_users[start : start + 500])
        )
        current |= {(u, h) for u, h in (await s.execute(query)).all()}
    valid, unchanged = [], []
    for row in rows:
        cells = (row.login_id, row.host_id, row.action)
        if row.login_id not in known_users:
            errors.append(
                RowError(row.line, N_("There is no staff account “{value}”."), {"value": row.login_id}, cells)
            )
        elif row.host_id not in known_hosts:
            errors.append(RowError(row.line, N_("There is no office PC “{value}”."), {"value": row.host_id}, cells))
        elif ((row.login_id, row.host_id) in current) == (row.action == "assign"):
            unchanged.append(row)
        else:
            valid.append(row)
    return AssignmentCheck(valid, unchanged, sorted(errors, key=lambda e: e.line))


async def apply_assignments(
    s: AsyncSession, checked: AssignmentCheck, actor: str | None, *, address: str | None = None
) -> None:
    """The changes of a check (one audit event per assignment changed, as one by one)."""
    for row in checked.valid:
        if row.action == "assign":
            await assign(s, row.login_id, row.host_id, actor, address=address)
        else:
            await unassign(s, row.login_id, row.host_id, actor, address=address)


async def import_assignments(
    s: AsyncSession,
    rows: list[AssignmentRow],
    errors: list[RowError],
    actor: str | None,
    *,
    address: str | None = None,
    scope: Scope = WHOLE,
) -> AssignmentCheck:
    checked = await check_assignments(s, rows, errors, scope)
    await apply_assignments(s, checked, actor, address=address)
    s.add(
        audit.event(
            "assignments_imported",
            "ok",
            actor=actor,
            address=address,
            changed=len(checked.valid),
            unchanged=len(checked.unchanged),
            errors=len(checked.errors),
        )
    )
    return checked
