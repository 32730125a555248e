"""The organisation's default, departments and host groups with their stored policies, as the console's
policy page lists them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Department, HostGroup, PolicyRow
from ..policy import ORGANISATION

Target = tuple[int, str, PolicyRow | None]  # (id, name, its policy if one is stored)


async def policy_targets(s: AsyncSession) -> dict[str, list[Target]]:
    """The organisation's default (target 0), every department and host group by name, each with its
    stored policy (or None)."""
    rows = {(p.scope, p.target_id): p for p in (await s.execute(select(PolicyRow))).scalars()}
    departments = (await s.execute(select(Department.id, Department.name).order_by(Department.name))).all()
    groups = (await s.execute(select(HostGroup.id, HostGroup.name).order_by(HostGroup.name))).all()
    return {
        ORGANISATION: [(0, "", rows.get((ORGANISATION, 0)))],
        "department": [(i, n, rows.get(("department", i))) for i, n in departments],
        "host_group": [(i, n, rows.get(("host_group", i))) for i, n in groups],
    }
