"""Policies of the organisation (its default), departments and host groups, which group a PC belongs
to, and the organisation's closed days (the holiday calendar).

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit, holidays, policies_db
from ..db.models import Host
from ..policy import ORGANISATION
from .errors import MAX_NAME, AdminError

MAX_DAY_NAME = 100  # characters of a closed day's name (年末年始, 県民の日)


async def set_policy(
    s: AsyncSession,
    scope: str,
    name: str,
    settings: dict[str, Any],
    actor: str | None,
    *,
    address: str | None = None,
) -> dict[str, Any]:
    """Set columns of the policy of the organisation (its default; `name` unused), a department or a
    host group (the others stay); returns the policy
    as stored. Raises `PolicyError` (naming the setting) for a value that may not be stored."""
    before, after = await policies_db.set_policy(s, scope, name, settings, actor)
    subject = ORGANISATION if scope == ORGANISATION else f"{scope}:{name}"
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


async def add_closed_days(
    s: AsyncSession,
    first: dt.date,
    last: dt.date,
    name: str,
    actor: str | None,
    *,
    address: str | None = None,
) -> list[str]:
    """Close the organisation from `first` to `last` (inclusive) for `name`; the days already closed
    stay as they are. One audit event lists the days added (none added: no event). Returns them."""
    name = name.strip()
    if not name:
        raise AdminError(N_("Give the closed day a name."))
    if len(name) > MAX_DAY_NAME:
        raise AdminError(N_("The name must be at most {n} characters."), n=MAX_DAY_NAME)
    if last < first:
        raise AdminError(N_("The last day must not be before the first day."))
    if (last - first).days + 1 > holidays.MAX_RANGE_DAYS:
        raise AdminError(N_("Add at most {n} days at once."), n=holidays.MAX_RANGE_DAYS)
    added = await holidays.add_closed_days(s, first, last, name, actor)
    if added:
        subject = added[0] if len(added) == 1 else f"{added[0]}..{added[-1]}"
        s.add(
            audit.change(
                "closed_day_added",
                actor=actor,
                subject=subject,
                before=None,
                after={"name": name, "days": added},
                address=address,
            )
        )
    return added


async def remove_closed_day(s: AsyncSession, day: dt.date, actor: str | None, *, address: str | None = None) -> None:
    """Open a closed day again (audited); AdminError if it is not a closed day (or was just removed)."""
    name = await holidays.remove_closed_day(s, day)
    if name is None:
        raise AdminError(N_("{value} is not a closed day."), value=day.isoformat())
    s.add(
        audit.change(
            "closed_day_removed",
            actor=actor,
            subject=day.isoformat(),
            before={"name": name},
            after=None,
            address=address,
        )
    )
