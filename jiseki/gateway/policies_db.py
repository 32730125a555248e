"""Policies in the database: store them, and compute the effective policy of a (user, PC).

The organisation's default is the row of scope "organisation" with target 0; departments and host
groups have rows of their own scope with their id."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.policy_settings import COLUMNS

from .auth import second_factor
from .db.models import Department, Host, HostGroup, PolicyRow, User, utcnow
from .holidays import calendar_for
from .policy import ORGANISATION, Effective, Policy, PolicyError, combine

SCOPES = (ORGANISATION, "department", "host_group")
SECOND_FACTOR = "second_factor"
ORGANISATION_TARGET = 0


def to_policy(row: PolicyRow, name: str) -> Policy:
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
            found.append(to_policy(row[0], f"department:{row[1]}"))
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
            found.append(to_policy(row[0], f"host_group:{row[1]}"))
    return found


async def organisation_policy(s: AsyncSession) -> Policy | None:
    """The organisation's default policy, if one is stored."""
    row = (
        await s.execute(
            select(PolicyRow).where(PolicyRow.scope == ORGANISATION, PolicyRow.target_id == ORGANISATION_TARGET)
        )
    ).scalar_one_or_none()
    return to_policy(row, ORGANISATION) if row is not None else None


async def effective_for(s: AsyncSession, user_id: str, host_id: str, now: dt.datetime | None = None) -> Effective:
    """The policy of a session of this user on this PC, with the holiday calendar from `now`."""
    return combine(
        await policies_for(s, user_id, host_id), await organisation_policy(s), await calendar_for(s, now or utcnow())
    )


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
    """Create or change the policy of the organisation (its default: `name` is not used), a
    department or a host group; returns (before, after)."""
    if scope not in SCOPES:
        raise PolicyError("scope: must be organisation, department or host_group")
    # The login's second factor is kept on the same rows but is not a session setting (not in COLUMNS).
    columns = (*COLUMNS, SECOND_FACTOR) if scope in second_factor.SCOPES else COLUMNS
    unknown = set(settings) - set(columns)
    if unknown:
        raise PolicyError(f"{sorted(unknown)[0]}: unknown setting (known: {', '.join(columns)})")
    if SECOND_FACTOR in settings:
        try:
            settings = {**settings, SECOND_FACTOR: second_factor.checked(settings[SECOND_FACTOR])}
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
    if scope == ORGANISATION:
        target = ORGANISATION_TARGET
    else:
        target = await _target(s, scope, name, create=scope == "host_group")
    row = (
        await s.execute(select(PolicyRow).where(PolicyRow.scope == scope, PolicyRow.target_id == target))
    ).scalar_one_or_none()
    before = {k: getattr(row, k) for k in columns} if row is not None else {}
    merged = {**before, **settings}
    Policy(name=name, **{k: merged.get(k) for k in COLUMNS}).validated()
    if row is None:
        row = PolicyRow(scope=scope, target_id=target)
        s.add(row)
    for key, value in settings.items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = utcnow(), actor
    return before, {k: getattr(row, k) for k in columns}


async def set_host_group(s: AsyncSession, host_id: str, group: str | None) -> str | None:
    """Put an office PC in a host group (created if new), or in none; returns its previous group."""
    host = await s.get(Host, host_id)
    if host is None:
        raise PolicyError(f"host: no office PC {host_id!r}")
    previous = await s.get(HostGroup, host.host_group_id) if host.host_group_id is not None else None
    host.host_group_id = await _target(s, "host_group", group, create=True) if group else None
    return previous.name if previous is not None else None
