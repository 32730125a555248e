"""Staff accounts: create, change, reset, lock and disable, and the staff CSV import.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit
from ..auth import accounts, websessions
from ..auth.passwords import PasswordPolicy, hash_off_loop, hash_password
from ..auth.users_csv import RowError, StaffRow
from ..db.models import Department, User, utcnow
from .errors import MAX_NAME, AdminError


async def department_id(s: AsyncSession, name: str) -> int | None:
    if not name:
        return None
    row = (await s.execute(select(Department).where(Department.name == name))).scalar_one_or_none()
    if row is None:
        row = Department(name=name)
        s.add(row)
        await s.flush()
    return row.id


async def department_name(s: AsyncSession, dept_id: int | None) -> str:
    if dept_id is None:
        return ""
    row = await s.get(Department, dept_id)
    return row.name if row is not None else ""


def _check_profile(display_name: str, department: str, role: str) -> None:
    if not display_name or len(display_name) > MAX_NAME:
        raise AdminError(N_("The name must be 1-255 characters."))
    if len(department) > MAX_NAME:
        raise AdminError(N_("The department must be at most 255 characters."))
    if role not in accounts.ROLES:
        raise AdminError(N_("The role “{value}” is unknown: use staff, helpdesk, admin or auditor."), value=role)


async def _hash_in_thread(password: str) -> str:
    # argon2id costs tens of milliseconds: off the event loop, so that live sessions keep flowing.
    return await hash_off_loop(password)


async def create_user(
    s: AsyncSession,
    policy: PasswordPolicy,
    login_id: str,
    display_name: str,
    department: str,
    role: str,
    password: str | None,
    actor: str | None,
    *,
    address: str | None = None,
) -> str | None:
    """Create an account. Without `password` a temporary one is made, returned, and must be changed."""
    if not accounts.valid_login_id(login_id):
        raise AdminError(
            N_("The login ID “{value}” is not valid: use 1-64 letters, digits or . _ - @."), value=login_id[:80]
        )
    _check_profile(display_name, department, role)
    if await s.get(User, login_id) is not None:
        raise AdminError(N_("The login ID “{value}” already exists."), value=login_id)
    temporary = None
    if password is None:
        temporary = password = accounts.temporary_password()
    else:
        problems = policy.problems(password, login_id)
        if problems:
            raise AdminError(
                N_("The password does not meet the policy: {problems}"),
                problems=" ".join(p.msgid.format(n=p.value) for p in problems),
            )
    s.add(
        User(
            id=login_id,
            display_name=display_name,
            department_id=await department_id(s, department),
            role=role,
            password_hash=await _hash_in_thread(password),
            must_change_password=temporary is not None,
        )
    )
    after = {"display_name": display_name, "department": department, "role": role}
    s.add(audit.change("user_created", actor=actor, subject=login_id, before=None, after=after, address=address))
    return temporary


async def user(s: AsyncSession, login_id: str) -> User:
    row = await s.get(User, login_id) if accounts.valid_login_id(login_id) else None
    if row is None:
        raise AdminError(N_("There is no staff account “{value}”."), value=login_id[:80])
    return row


async def _other_active_admins(s: AsyncSession, login_id: str) -> int:
    query = select(func.count()).select_from(User).where(User.role == "admin", ~User.disabled, User.id != login_id)
    return int((await s.execute(query)).scalar_one())


async def update_user(
    s: AsyncSession,
    login_id: str,
    *,
    display_name: str,
    department: str,
    role: str,
    actor: str | None,
    address: str | None = None,
) -> bool:
    """Change name, department and role; False if nothing changed."""
    row = await user(s, login_id)
    _check_profile(display_name, department, role)
    before = {
        "display_name": row.display_name,
        "department": await department_name(s, row.department_id),
        "role": row.role,
    }
    after = {"display_name": display_name, "department": department, "role": role}
    if before == after:
        return False
    if row.role == "admin" and role != "admin" and not row.disabled and await _other_active_admins(s, login_id) == 0:
        raise AdminError(N_("This is the last administrator; make another administrator first."))
    row.display_name, row.role = display_name, role
    row.department_id = await department_id(s, department)
    if before["role"] != role:
        await websessions.end_all_for_user(s, login_id)  # the new rights apply from the next login
    s.add(audit.change("user_updated", actor=actor, subject=login_id, before=before, after=after, address=address))
    return True


async def reset_password(s: AsyncSession, login_id: str, actor: str | None, *, address: str | None = None) -> str:
    """A new temporary password (returned once, to be handed over); the user must change it."""
    row = await user(s, login_id)
    temporary = accounts.temporary_password()
    before = {"must_change_password": row.must_change_password, "failed_logins": row.failed_logins}
    row.password_hash = await _hash_in_thread(temporary)
    row.password_changed_at = utcnow()
    row.must_change_password = True
    row.failed_logins = 0
    await websessions.end_all_for_user(s, login_id)
    after = {"must_change_password": True, "failed_logins": 0}
    s.add(audit.change("password_reset", actor=actor, subject=login_id, before=before, after=after, address=address))
    return temporary


async def unlock_user(s: AsyncSession, login_id: str, actor: str | None, *, address: str | None = None) -> None:
    row = await user(s, login_id)
    before = {"locked_until": row.locked_until, "failed_logins": row.failed_logins}
    accounts.unlock(row)
    after = {"locked_until": None, "failed_logins": 0}
    s.add(audit.change("user_unlocked", actor=actor, subject=login_id, before=before, after=after, address=address))


async def reset_totp(s: AsyncSession, login_id: str, actor: str | None, *, address: str | None = None) -> None:
    row = await user(s, login_id)
    before = {"totp_enabled": row.totp_enabled}
    accounts.reset_totp(row)
    await websessions.end_all_for_user(s, login_id)
    s.add(
        audit.change(
            "totp_reset", actor=actor, subject=login_id, before=before, after={"totp_enabled": False}, address=address
        )
    )


async def set_disabled(
    s: AsyncSession, login_id: str, disabled: bool, actor: str | None, *, address: str | None = None
) -> None:
    row = await user(s, login_id)
    if disabled and row.role == "admin" and not row.disabled and await _other_active_admins(s, login_id) == 0:
        raise AdminError(N_("This is the last administrator; make another administrator first."))
    before = {"disabled": row.disabled}
    row.disabled = disabled
    if disabled:
        await websessions.end_all_for_user(s, login_id)
    kind = "user_disabled" if disabled else "user_enabled"
    s.add(
        audit.change(kind, actor=actor, subject=login_id, before=before, after={"disabled": disabled}, address=address)
    )


@dataclass(frozen=True)
class ImportResult:
    created: list[tuple[str, str]]  # (login id, temporary password)
    errors: list[RowError]


async def check_staff_rows(
    s: AsyncSession, rows: list[StaffRow], errors: list[RowError], allowed_roles: frozenset[str] | None = None
) -> tuple[list[StaffRow], list[RowError]]:
    """The rows that would be created, and every problem (parser's and database's) by line."""
    errors = list(errors)
    existing: set[str] = set()
    ids = [r.login_id for r in rows]
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[start : start + 500]
        existing |= set((await s.execute(select(User.id).where(User.id.in_(chunk)))).scalars())
    good = []
    for row in rows:
        cells = (row.login_id, row.display_name, row.department, row.role)
        if row.login_id in existing:
            errors.append(
                RowError(
                    row.line,
                    N_("The login ID “{value}” already exists; the row is skipped."),
                    {"value": row.login_id},
                    cells,
                )
            )
        elif allowed_roles is not None and row.role not in allowed_roles:
            errors.append(
                RowError(
                    row.line, N_("You may not create accounts with the role “{value}”."), {"value": row.role}, cells
                )
            )
        else:
            good.append(row)
    return good, sorted(errors, key=lambda e: e.line)


async def import_users(
    s: AsyncSession,
    rows: list[StaffRow],
    errors: list[RowError],
    actor: str | None,
    *,
    address: str | None = None,
    allowed_roles: frozenset[str] | None = None,
) -> ImportResult:
    """Create every valid row; rows whose login ID exists are reported, nothing is overwritten."""
    good, errors = await check_staff_rows(s, rows, errors, allowed_roles)
    temporaries = [accounts.temporary_password() for _ in good]
    hashes = await asyncio.to_thread(lambda: [hash_password(p) for p in temporaries])
    created: list[tuple[str, str]] = []
    for row, temporary, password_hash in zip(good, temporaries, hashes, strict=True):
        s.add(
            User(
                id=row.login_id,
                display_name=row.display_name,
                department_id=await department_id(s, row.department),
                role=row.role,
                password_hash=password_hash,
                must_change_password=True,
            )
        )
        after = {"display_name": row.display_name, "department": row.department, "role": row.role}
        s.add(
            audit.change(
                "user_created", actor=actor, subject=row.login_id, before=None, after=after, address=address, csv=True
            )
        )
        created.append((row.login_id, temporary))
    s.add(audit.event("users_imported", "ok", actor=actor, address=address, created=len(created), errors=len(errors)))
    return ImportResult(created, errors)
