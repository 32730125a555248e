"""What a delegated administrator or helpdesk member looks after (所掌範囲), as query clauses.

A scope is a set of departments and a set of PC groups (models.AdminScope). An empty scope means the
whole organisation (the main administrators). Within a scope:

- staff: members of a scoped department, or assigned to a PC of a scoped PC group;
- office PCs: in a scoped PC group, or assigned to a member of a scoped department;
- sessions: of a staff member or a PC in scope.

Every console query and export adds these clauses; a row outside them is "not found", never
"forbidden", so that crafted URLs learn nothing about other departments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, delete, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from .db.models import AdminScope, Assignment, Host, Session, User

KINDS = ("department", "host_group")


@dataclass(frozen=True)
class Scope:
    departments: frozenset[int] = frozenset()
    host_groups: frozenset[int] = frozenset()

    @property
    def everything(self) -> bool:
        return not self.departments and not self.host_groups

    def users(self, user_id: SQLColumnExpression[str | None] | None = None) -> ColumnElement[bool]:
        """A clause true for the staff in scope; `user_id` defaults to `User.id` (give another
        column, e.g. `Session.user_id`, to filter rows that only name a user).

        On `User` itself the department test is a plain column test (the department index), not a
        subquery; the PC-group part is one IN (subquery) on the host_group index, which SQLite and
        PostgreSQL both run once per statement, not once per row.
        """
        if self.everything:
            return true()
        via_pcs = (
            select(Assignment.user_id)
            .join(Host, Host.id == Assignment.host_id)
            .where(Host.host_group_id.in_(sorted(self.host_groups)))
        )
        return _either(user_id, User.id, User.department_id, self.departments, via_pcs if self.host_groups else None)

    def hosts(self, host_id: SQLColumnExpression[str | None] | None = None) -> ColumnElement[bool]:
        """A clause true for the office PCs in scope; `host_id` defaults to `Host.id`."""
        if self.everything:
            return true()
        via_staff = (
            select(Assignment.host_id)
            .join(User, User.id == Assignment.user_id)
            .where(User.department_id.in_(sorted(self.departments)))
        )
        return _either(host_id, Host.id, Host.host_group_id, self.host_groups, via_staff if self.departments else None)

    def sessions(self) -> ColumnElement[bool]:
        if self.everything:
            return true()
        return or_(self.users(Session.user_id), self.hosts(Session.host_id))

    async def has_user(self, s: AsyncSession, user_id: str) -> bool:
        if self.everything:
            return (await s.get(User, user_id)) is not None
        found = await s.execute(select(User.id).where(User.id == user_id, self.users()))
        return found.first() is not None

    async def has_host(self, s: AsyncSession, host_id: str) -> bool:
        if self.everything:
            return (await s.get(Host, host_id)) is not None
        found = await s.execute(select(Host.id).where(Host.id == host_id, self.hosts()))
        return found.first() is not None

    def has_department(self, department_id: int | None) -> bool:
        """Whether staff may be created in, or moved into or out of, this department."""
        return self.everything or department_id in self.departments

    async def has_session(self, s: AsyncSession, session_id: str) -> bool:
        found = await s.execute(select(Session.id).where(Session.id == session_id, self.sessions()))
        return found.first() is not None


WHOLE = Scope()


def _either(
    column: SQLColumnExpression[str | None] | None,
    own_id: SQLColumnExpression[str],
    own_key: SQLColumnExpression[int | None],
    own_keys: frozenset[int],
    via: Select[str] | None,
) -> ColumnElement[bool]:
    """`column` (by default `own_id`, the row itself) names a row whose `own_key` is one of
    `own_keys`, or one of the IDs `via` selects (the other side of an assignment)."""
    parts: list[ColumnElement[bool]] = []
    if own_keys:
        if column is None:
            parts.append(own_key.in_(sorted(own_keys)))
        else:
            parts.append(column.in_(select(own_id).where(own_key.in_(sorted(own_keys)))))
    if via is not None:
        parts.append((column if column is not None else own_id).in_(via))
    return or_(*parts)


async def scope_of(s: AsyncSession, user_id: str) -> Scope:
    rows = (await s.execute(select(AdminScope.kind, AdminScope.target_id).where(AdminScope.user_id == user_id))).all()
    return Scope(
        frozenset(t for k, t in rows if k == "department"),
        frozenset(t for k, t in rows if k == "host_group"),
    )


async def set_scope(s: AsyncSession, user_id: str, departments: Iterable[int], host_groups: Iterable[int]) -> None:
    await s.execute(delete(AdminScope).where(AdminScope.user_id == user_id))
    for kind, ids in (("department", departments), ("host_group", host_groups)):
        for target in sorted(set(ids)):
            s.add(AdminScope(user_id=user_id, kind=kind, target_id=target))
