"""Policies of departments and host groups, and which group a PC belongs to.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit, policies_db
from ..db.models import Host
from .errors import MAX_NAME, AdminError


async def set_policy(
    s: AsyncSession,
    scope: str,
    name: str,
    settings: dict[str, Any],
    actor: str | None,
    *,
    address: str | None = None,
) -> dict[str, Any]:
    """Set columns of the policy of a department or host group (the others stay); returns the policy
    as stored. Raises `PolicyError` (naming the setting) for a value that may not be stored."""
    before, after = await policies_db.set_policy(s, scope, name, settings, actor)
    subject = f"{scope}:{name}"
    s.add(audit.change("policy_changed", actor=actor, subject=subject, before=before, after=after, address=address))
    return after


async def set_host_group(
    s: AsyncSession, host_id: str, group: str | None, actor: str | None, *, address: str | None = None
) -> None:
    """Put an office PC in a host group (created when new; its policy then applies), or in none."""
    group = (group or "").strip() or None
    if group is not None and len(group) > MAX_NAME:
        raise AdminError(N_("The group name must be at most 255 characters."))
    if await s.get(Host, host_id) is None:
        raise AdminError(N_("There is no office PC “{value}”."), value=host_id[:80])
    previous = await policies_db.set_host_group(s, host_id, group)
    s.add(
        audit.change(
            "host_group_changed",
            actor=actor,
            subject=host_id,
            before={"host_group": previous},
            after={"host_group": group},
            address=address,
        )
    )
