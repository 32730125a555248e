"""Policies in the database: store them, and compute the effective policy of a (user, PC)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.policy_settings import COLUMNS

from .db.models import Department, Host, HostGroup, PolicyRow, User, utcnow
from .policy import Effective, Policy, PolicyError, combine


def _to_policy(row: PolicyRow, name: str) -> Policy:
    return Policy(name=name, **{k: getattr(row, k) for k in COLUMNS})


async def policies_for(s: AsyncSession, user_id: str, host_id: str) -> list[Policy]:
    """The department policy of the user and the host-group policy of the PC (each if any)."""
    found: list[Policy] = []
    user = await s.get(User, user_id)
    if user is not None and user.department_id is not None:
        row = (
            await s.execute(
                select(PolicyRow, Department.name)
                .join(Department, Department.id == PolicyRow.target_id)
                .where(PolicyRow.scope == "department", PolicyRow.target_id == user.department_id)
            )
        ).first()
        if row is not None:
            found.append(_to_policy(row[0], f"department:{row[1]}"))
    host = await s.get(Host, host_id)
    if host is not None and host.host_group_id is not None:
        row = (
            await s.execute(
                select(PolicyRow, HostGroup.name)
                .join(HostGroup, HostGroup.id == PolicyRow.target_id)
                .where(PolicyRow.scope == "host_group", PolicyRow.target_id == host.host_group_id)
            )
        ).first()
        if row is not None:
            found.append(_to_policy(row[0], f"host_group:{row[1]}"))
    return found


async def effective_for(s: AsyncSession, user_id: str, host_id: str) -> Effective:
    return combine(await policies_for(s, user_id, host_id))


async def _target(s: AsyncSession, scope: str, name: str, create: bool) -> int:
    model: Any = Department if scope == "department" else HostGroup
    row = (await s.execute(select(model).where(model.name == name))).scalar_one_or_none()
    if row is None:
        if not create:
            raise PolicyError(f"{scope}: no {scope.replace('_', ' ')} named {name!r}")
        row = model(name=name)
        s.add(row)
        await s.flush()
    return int(row.id)


async def set_policy(
    s: AsyncSession, scope: str, name: str, settings: dict[str, Any], actor: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create or change the policy of a department or host group; returns (before, after)."""
    if scope not in ("department", "host_group"):
        raise PolicyError("scope: must be department or host_group")
    unknown = set(settings) - set(COLUMNS)
    if unknown:
        raise PolicyError(f"{sorted(unknown)[0]}: unknown setting (known: {', '.join(COLUMNS)})")
    target = await _target(s, scope, name, create=scope == "host_group")
    row = (
        await s.execute(select(PolicyRow).where(PolicyRow.scope == scope, PolicyRow.target_id == target))
    ).scalar_one_or_none()
    before = {k: getattr(row, k) for k in COLUMNS} if row is not None else {}
    merged = {**before, **settings}
    Policy(name=name, **{k: merged.get(k) for k in COLUMNS}).validated()
    if row is None:
        row = PolicyRow(scope=scope, target_id=target)
        s.add(row)
    for key, value in settings.items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = utcnow(), actor
    return before, {k: getattr(row, k) for k in COLUMNS}


async def set_host_group(s: AsyncSession, host_id: str, group: str | None) -> str | None:
    """Put an office PC in a host group (created if new), or in none; returns its previous group."""
    host = await s.get(Host, host_id)
    if host is None:
        raise PolicyError(f"host: no office PC {host_id!r}")
    previous = await s.get(HostGroup, host.host_group_id) if host.host_group_id is not None else None
    host.host_group_id = await _target(s, "host_group", group, create=True) if group else None
    return previous.name if previous is not None else None
