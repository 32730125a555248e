"""The office PC CSV (update mode): what each row would change, checked against the database in
chunks (no query per row), and applying it through the one-PC operations (each audited)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit
from ..auth.users_csv import RowError
from ..db.models import Certificate, Host, HostGroup
from ..pcs_csv import PcRow
from .errors import AdminError
from .hosts import revoke_host
from .policies import set_host_group
from .staff_import import outcome

CHUNK = 500
REVOKE_REASON = "CSV"  # the reason recorded for a PC revoked by the CSV (the file's name is in the job's event)


@dataclass(frozen=True)
class PcChange:
    row: PcRow
    action: str  # update / revoke / unchanged
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass
class PcPlan:
    changes: list[PcChange]
    errors: list[RowError]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("update", "revoke", "unchanged", "error"), 0)
        for c in self.changes:
            counts[c.action] += 1
        counts["error"] = len({e.line for e in self.errors})
        return counts


async def plan_pc_rows(s: AsyncSession, rows: Sequence[PcRow], errors: Sequence[RowError]) -> PcPlan:
    """What each row would do: PCs that do not exist are errors; a row asking for what is already
    so (same name and group, or already revoked) changes nothing."""
    known: dict[str, tuple[str, str | None, bool]] = {}  # id -> (name, group, certificate valid)
    ids = sorted({r.host_id for r in rows})
    for start in range(0, len(ids), CHUNK):
        query = (
            select(Host.id, Host.name, HostGroup.name, Certificate.revoked_at)
            .outerjoin(HostGroup, HostGroup.id == Host.host_group_id)
            .outerjoin(Certificate, Certificate.fingerprint == Host.cert_fingerprint)
            .where(Host.id.in_(ids[start : start + CHUNK]))
        )
        for host_id, host_name, group_name, revoked_at in (await s.execute(query)).all():
            known[host_id] = (host_name, group_name, revoked_at is None)
    plan = PcPlan([], list(errors))
    for r in rows:
        if r.host_id not in known:
            plan.errors.append(RowError(r.line, N_("There is no office PC “{value}”."), {"value": r.host_id}, r.cells))
            continue
        name, group, valid = known[r.host_id]
        if r.action == "revoke":
            plan.changes.append(PcChange(r, "revoke" if valid else "unchanged"))
            continue
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if r.name is not None and r.name != name:
            before["name"], after["name"] = name, r.name
        if r.group is not None and (r.group or None) != group:
            before["host_group"], after["host_group"] = group, r.group or None
        plan.changes.append(PcChange(r, "update" if after else "unchanged", before, after))
    plan.errors.sort(key=lambda e: e.line)
    return plan


async def rename_host(
    s: AsyncSession, host_id: str, name: str, actor: str | None, *, address: str | None = None
) -> None:
    row = await s.get(Host, host_id)
    if row is None:
        raise AdminError(N_("There is no office PC “{value}”."), value=host_id[:80])
    before = {"name": row.name}
    row.name = name
    s.add(
        audit.change("host_renamed", actor=actor, subject=host_id, before=before, after={"name": name}, address=address)
    )


async def apply_pc_plan(
    s: AsyncSession, plan: PcPlan, actor: str | None, *, address: str | None = None
) -> list[dict[str, Any]]:
    """Carry out the plan's changes (each audited as one PC's change); the rows' outcomes."""
    first_errors = {e.line: e for e in reversed(plan.errors)}  # one outcome per line: its first error
    out = [outcome(e.line, e.record[0] if e.record else "", "error", e.msgid, e.values) for e in first_errors.values()]
    for c in plan.changes:
        r = c.row
        if c.action == "revoke":
            await revoke_host(s, r.host_id, REVOKE_REASON, actor, address=address)
        elif c.action == "update":
            if "name" in c.after:
                await rename_host(s, r.host_id, c.after["name"], actor, address=address)
            if "host_group" in c.after:
                await set_host_group(s, r.host_id, c.after["host_group"], actor, address=address)
        out.append(outcome(r.line, r.host_id, c.action, before=c.before, after=c.after))
    return sorted(out, key=lambda o: int(o["line"]))
