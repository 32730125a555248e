"""The staff CSV in update mode: what each row would do (the preview), then doing it (a job's chunk).

Rows are keyed by login ID. An action per row (create, update, disable, enable, delete) or none
(create if new, update if it exists). The plan reads the database in bulk (chunks of 500 IDs), never
once per row; applying goes through the same helpers as the console's single-account pages
(`accounts.change_profile`, `change_disabled`, `remove_account`), so every safety holds: the last
administrator stays, a role change or a disable ends the person's web sessions. The whole import is
audited as one event (`users_imported`, written by the job when it ends), not one per row.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit
from ..auth import accounts as auth_accounts
from ..auth.passwords import hash_temporary
from ..auth.users_csv import RowError, StaffRow
from ..db.models import AuditEvent, Department, User
from ..scope import WHOLE, Scope
from .accounts import change_disabled, change_profile, department_id, departments_by_name, remove_account
from .errors import AdminError

CHUNK_IDS = 500  # bounded IN lists
HASH_THREADS = 2  # argon2 releases the GIL: the temporary passwords of a chunk are hashed in parallel
OUTSIDE_DEPARTMENT = N_("The department “{value}” is outside your area of responsibility.")
OUTCOMES = ("create", "update", "disable", "enable", "delete", "unchanged", "error")


@dataclass(frozen=True)
class Existing:
    login_id: str
    display_name: str
    reading: str | None
    department: str
    role: str
    disabled: bool
    email: str | None = None


@dataclass
class StaffChange:
    """What one valid row does: `action` is one of OUTCOMES but "error"; for an update, the changed
    fields as they are (`before`) and as they will be (`after`)."""

    row: StaffRow
    action: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass
class StaffPlan:
    changes: list[StaffChange]
    errors: list[RowError]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for change in self.changes:
            counts[change.action] += 1
        counts["error"] = len({e.line for e in self.errors})
        return counts


async def _existing(s: AsyncSession, ids: list[str], scope: Scope) -> tuple[dict[str, Existing], set[str]]:
    """The accounts among `ids`, and those of them within `scope`."""
    found: dict[str, Existing] = {}
    in_scope: set[str] = set()
    for start in range(0, len(ids), CHUNK_IDS):
        chunk = ids[start : start + CHUNK_IDS]
        query = (
            select(User.id, User.display_name, User.reading, Department.name, User.role, User.disabled, User.email)
            .outerjoin(Department, Department.id == User.department_id)
            .where(User.id.in_(chunk))
        )
        for login_id, name, reading, department, role, disabled, email in (await s.execute(query)).all():
            found[login_id] = Existing(login_id, name, reading, department or "", role, disabled, email)
        if scope.everything:
            in_scope |= {i for i in chunk if i in found}
        else:
            in_scope |= set((await s.execute(select(User.id).where(User.id.in_(chunk), scope.users()))).scalars())
    return found, in_scope


async def _active_admins(s: AsyncSession) -> int:
    query = select(func.count()).select_from(User).where(User.role == "admin", ~User.disabled)
    return int((await s.execute(query)).scalar_one())


async def plan_staff_rows(
    s: AsyncSession,
    rows: list[StaffRow],
    errors: list[RowError],
    *,
    allowed_roles: frozenset[str] | None = None,
    scope: Scope = WHOLE,
    upsert: bool = True,
) -> StaffPlan:
    """What every row would do, and every problem (the parser's and the database's) by line.

    `allowed_roles`: the roles the importer may give (and whose accounts they may change); `scope`:
    a delegated importer's 所掌範囲 (rows for other staff, or departments outside it, are errors);
    `upsert`: a blank action updates an existing account (else it is an error, as for "create")."""
    errors = list(errors)
    existing, in_scope = await _existing(s, [r.login_id for r in rows], scope)
    departments = await departments_by_name(s) if not scope.everything else {}
    admins_left = await _active_admins(s)
    changes: list[StaffChange] = []

    def refuse(row: StaffRow, msgid: str, **values: Any) -> None:
        errors.append(RowError(row.line, msgid, values, row.record))

    def department_allowed(name: str) -> bool:
        return scope.everything or departments.get(name) in scope.departments

    for row in rows:
        ex = existing.get(row.login_id)
        action = row.action or ("update" if ex is not None and upsert else "create")
        if action == "create":
            if ex is not None:
                refuse(row, N_("The login ID “{value}” already exists; the row is skipped."), value=row.login_id)
                continue
            role = row.role or "staff"
            if not row.display_name:
                refuse(row, N_("The name must be 1-255 characters."))
            elif allowed_roles is not None and role not in allowed_roles:
                refuse(row, N_("You may not create accounts with the role “{value}”."), value=role)
            elif not department_allowed(row.department or ""):
                refuse(row, OUTSIDE_DEPARTMENT, value=row.department or "")
            else:
                changes.append(StaffChange(row, "create"))
            continue
        if ex is None:
            refuse(row, N_("There is no staff account “{value}”."), value=row.login_id)
            continue
        if row.login_id not in in_scope:
            refuse(row, N_("This staff member is outside your area of responsibility."))
            continue
        if allowed_roles is not None and ex.role not in allowed_roles:
            refuse(row, N_("You may not change accounts with the role “{value}”."), value=ex.role)
            continue
        change = _change_of(row, action, ex)
        if change.action == "update" and row.role is not None and allowed_roles is not None:
            if row.role not in allowed_roles:
                refuse(row, N_("You may not give the role “{value}”."), value=row.role)
                continue
        if "department" in change.after and not department_allowed(change.after["department"]):
            refuse(row, OUTSIDE_DEPARTMENT, value=change.after["department"])
            continue
        takes_admin = ex.role == "admin" and not ex.disabled
        takes_admin = takes_admin and (action in ("disable", "delete") or change.after.get("role", "admin") != "admin")
        if takes_admin:
            if admins_left <= 1:
                refuse(row, N_("This is the last administrator; make another administrator first."))
                continue
            admins_left -= 1
        changes.append(change)
    return StaffPlan(changes, sorted(errors, key=lambda e: e.line))


def _change_of(row: StaffRow, action: str, ex: Existing) -> StaffChange:
    if action == "disable":
        return StaffChange(row, "unchanged" if ex.disabled else "disable")
    if action == "enable":
        return StaffChange(row, "enable" if ex.disabled else "unchanged")
    if action == "delete":
        return StaffChange(row, "delete")
    before = {
        "display_name": ex.display_name,
        "reading": ex.reading,
        "department": ex.department,
        "role": ex.role,
        "email": ex.email,
    }
    after = {
        "display_name": row.display_name or ex.display_name,
        "reading": (row.reading or None) if row.reading is not None else ex.reading,
        "department": row.department if row.department is not None else ex.department,
        "role": row.role or ex.role,
        "email": (row.email or None) if row.email is not None else ex.email,
    }
    keys = [k for k in after if after[k] != before[k]]
    if not keys:
        return StaffChange(row, "unchanged")
    return StaffChange(row, "update", {k: before[k] for k in keys}, {k: after[k] for k in keys})


@dataclass(frozen=True)
class Created:
    login_id: str
    display_name: str
    department: str
    password: str


@dataclass
class Applied:
    """Per row an `outcome` dict (line, id, outcome, and msgid + values for an error, before + after
    for an update); the accounts created with their temporary passwords (to hand out once)."""

    outcomes: list[dict[str, Any]] = field(default_factory=list)
    created: list[Created] = field(default_factory=list)


def outcome(
    line: int,
    login_id: str,
    result: str,
    msgid: str = "",
    values: Mapping[str, Any] | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One row's outcome as the job keeps it (JSON)."""
    o: dict[str, Any] = {"line": line, "id": login_id, "outcome": result}
    if msgid:
        o["msgid"], o["values"] = msgid, {k: str(v) for k, v in (values or {}).items()}
    if after:
        o["before"], o["after"] = before, after
    return o


def _hash_list(passwords: list[str]) -> list[str]:
    return [hash_temporary(p) for p in passwords]


async def _hash_all(passwords: list[str]) -> list[str]:
    if not passwords:
        return []
    parts = [passwords[i::HASH_THREADS] for i in range(HASH_THREADS)]
    hashed = await asyncio.gather(*(asyncio.to_thread(_hash_list, part) for part in parts))
    out = [""] * len(passwords)
    for i, part in enumerate(hashed):
        out[i::HASH_THREADS] = part
    return out


async def apply_staff_plan(s: AsyncSession, plan: StaffPlan, known_departments: dict[str, int]) -> Applied:
    """Do what `plan` says, in `s` (one chunk of a job). A row whose re-check fails when applied (the
    last administrator) becomes an error; the others go on."""
    applied = Applied()
    for e in plan.errors:
        applied.outcomes.append(outcome(e.line, e.record[0] if e.record else "", "error", e.msgid, e.values))
    creates = [c for c in plan.changes if c.action == "create"]
    temporaries = [auth_accounts.temporary_password() for _ in creates]
    hashes = dict(zip([c.row.login_id for c in creates], await _hash_all(temporaries), strict=True))
    passwords = dict(zip([c.row.login_id for c in creates], temporaries, strict=True))
    ids = [c.row.login_id for c in plan.changes if c.action not in ("create", "unchanged")]
    rows: dict[str, User] = {}
    for start in range(0, len(ids), CHUNK_IDS):  # one query for the chunk's accounts, then the identity map
        rows |= {
            u.id: u
            for u in (await s.execute(select(User).where(User.id.in_(ids[start : start + CHUNK_IDS])))).scalars()
        }
    for change in plan.changes:
        row = change.row
        try:
            if change.action == "create":
                department = row.department or ""
                s.add(
                    User(
                        id=row.login_id,
                        display_name=row.display_name,
                        reading=row.reading or None,
                        department_id=await department_id(s, department, known_departments),
                        role=row.role or "staff",
                        password_hash=hashes[row.login_id],
                        must_change_password=True,
                        email=row.email or None,
                    )
                )
                applied.created.append(Created(row.login_id, row.display_name, department, passwords[row.login_id]))
            elif change.action != "unchanged":
                user = rows.get(row.login_id)
                if user is None:
                    raise AdminError(N_("There is no staff account “{value}”."), value=row.login_id)
                await _apply_existing(s, user, change, known_departments)
        except AdminError as exc:
            applied.outcomes.append(outcome(row.line, row.login_id, "error", exc.msgid, exc.values))
            continue
        done = outcome(row.line, row.login_id, change.action, before=change.before, after=change.after)
        applied.outcomes.append(done)
    applied.outcomes.sort(key=lambda o: int(o["line"]))
    return applied


async def _apply_existing(s: AsyncSession, user: User, change: StaffChange, known: dict[str, int]) -> None:
    if change.action == "disable":
        await change_disabled(s, user, True)
    elif change.action == "enable":
        await change_disabled(s, user, False)
    elif change.action == "delete":
        await remove_account(s, user)
    else:
        after = change.after
        dept_id = await department_id(s, after["department"], known) if "department" in after else user.department_id
        await change_profile(
            s,
            user,
            after.get("display_name", user.display_name),
            dept_id,
            after.get("role", user.role),
            reading=after.get("reading"),
            set_reading="reading" in after,
            email=after.get("email"),
            set_email="email" in after,
        )


def import_event(
    actor: str | None,
    address: str | None,
    outcomes: list[dict[str, Any]],
    **details: Any,
) -> AuditEvent:
    """The one audit event of a whole staff import: counts per outcome and the login IDs changed by
    each action. Its details are kept whole (a prefecture's April transfers list thousands of IDs,
    past `audit.MAX_DETAIL`, which would cut the JSON)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    ids: dict[str, list[str]] = {a: [] for a in OUTCOMES if a not in ("unchanged", "error")}
    for o in outcomes:
        counts[o["outcome"]] += 1
        if o["outcome"] in ids:
            ids[o["outcome"]].append(o["id"])
    full = {"counts": counts, "login_ids": {a: v for a, v in ids.items() if v}, **details}
    event = audit.event("users_imported", "ok", actor=actor, address=address, **full)
    event.details = json.dumps(full, ensure_ascii=False, default=str, sort_keys=True)
    return event


@dataclass(frozen=True)
class ImportResult:
    created: list[tuple[str, str]]  # (login id, temporary password)
    errors: list[RowError]
    counts: dict[str, int]


async def import_users(
    s: AsyncSession,
    rows: list[StaffRow],
    errors: list[RowError],
    actor: str | None,
    *,
    address: str | None = None,
    allowed_roles: frozenset[str] | None = None,
    upsert: bool = False,
) -> ImportResult:
    """The whole file in one transaction (the CLI). Without `upsert`, a row without an action only
    creates: an existing login ID is reported, never overwritten."""
    plan = await plan_staff_rows(s, rows, errors, allowed_roles=allowed_roles, upsert=upsert)
    applied = await apply_staff_plan(s, plan, await departments_by_name(s))
    s.add(import_event(actor, address, applied.outcomes, source="cli"))
    failed = [RowError(o["line"], o["msgid"], o["values"]) for o in applied.outcomes if o["outcome"] == "error"]
    counts = dict.fromkeys(OUTCOMES, 0)
    for o in applied.outcomes:
        counts[o["outcome"]] += 1
    return ImportResult([(c.login_id, c.password) for c in applied.created], failed, counts)
