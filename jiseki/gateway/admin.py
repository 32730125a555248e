"""Administrative operations shared by the CLI and (later) the admin console; each is audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit
from .auth import accounts, websessions
from .auth.passwords import PasswordPolicy, hash_password
from .auth.users_csv import RowError, StaffRow
from .db.models import Department, User


class AdminError(Exception):
    """A request an administrator can correct; the message says how."""


async def department_id(s: AsyncSession, name: str) -> int | None:
    if not name:
        return None
    row = (await s.execute(select(Department).where(Department.name == name))).scalar_one_or_none()
    if row is None:
        row = Department(name=name)
        s.add(row)
        await s.flush()
    return row.id


async def create_user(
    s: AsyncSession,
    policy: PasswordPolicy,
    login_id: str,
    display_name: str,
    department: str,
    role: str,
    password: str | None,
    actor: str | None,
) -> str | None:
    """Create an account. Without `password` a temporary one is made, returned, and must be changed."""
    if not accounts.valid_login_id(login_id):
        raise AdminError(f"login ID {login_id!r}: use 1-64 letters, digits or . _ - @")
    if role not in accounts.ROLES:
        raise AdminError(f"role {role!r}: must be one of {', '.join(accounts.ROLES)}")
    if not display_name or len(display_name) > 255:
        raise AdminError("display name: 1-255 characters")
    if await s.get(User, login_id) is not None:
        raise AdminError(f"login ID {login_id!r} already exists")
    temporary = None
    if password is None:
        temporary = password = accounts.temporary_password()
    else:
        problems = policy.problems(password, login_id)
        if problems:
            raise AdminError("password: " + " ".join(p.msgid.format(n=p.value) for p in problems))
    s.add(
        User(
            id=login_id,
            display_name=display_name,
            department_id=await department_id(s, department),
            role=role,
            password_hash=hash_password(password),
            must_change_password=temporary is not None,
        )
    )
    s.add(audit.event("user_created", "ok", actor=actor, subject=login_id, role=role, department=department))
    return temporary


@dataclass(frozen=True)
class ImportResult:
    created: list[tuple[str, str]]  # (login id, temporary password)
    errors: list[RowError]


async def import_users(
    s: AsyncSession, rows: list[StaffRow], errors: list[RowError], actor: str | None
) -> ImportResult:
    """Create every valid row; rows whose login ID exists are reported, nothing is overwritten."""
    created: list[tuple[str, str]] = []
    errors = list(errors)
    existing = set((await s.execute(select(User.id).where(User.id.in_([r.login_id for r in rows])))).scalars())
    for row in rows:
        if row.login_id in existing:
            errors.append(RowError(row.line, f"login_id {row.login_id!r} already exists (not changed)"))
            continue
        temporary = accounts.temporary_password()
        s.add(
            User(
                id=row.login_id,
                display_name=row.display_name,
                department_id=await department_id(s, row.department),
                role=row.role,
                password_hash=hash_password(temporary),
                must_change_password=True,
            )
        )
        created.append((row.login_id, temporary))
    s.add(audit.event("users_imported", "ok", actor=actor, created=len(created), errors=len(errors)))
    return ImportResult(created, sorted(errors, key=lambda e: e.line))


async def _user(s: AsyncSession, login_id: str) -> User:
    user = await s.get(User, login_id)
    if user is None:
        raise AdminError(f"no staff account {login_id!r}")
    return user


async def unlock_user(s: AsyncSession, login_id: str, actor: str | None) -> None:
    user = await _user(s, login_id)
    before = user.locked_until
    accounts.unlock(user)
    s.add(audit.event("user_unlocked", "ok", actor=actor, subject=login_id, locked_until=before))


async def reset_totp(s: AsyncSession, login_id: str, actor: str | None) -> None:
    user = await _user(s, login_id)
    accounts.reset_totp(user)
    await websessions.end_all_for_user(s, login_id)
    s.add(audit.event("totp_reset", "ok", actor=actor, subject=login_id))


async def set_disabled(s: AsyncSession, login_id: str, disabled: bool, actor: str | None) -> None:
    user = await _user(s, login_id)
    user.disabled = disabled
    if disabled:
        await websessions.end_all_for_user(s, login_id)
    s.add(audit.event("user_disabled" if disabled else "user_enabled", "ok", actor=actor, subject=login_id))
