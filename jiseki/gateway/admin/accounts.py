"""Staff accounts: create, change, reset, lock and disable, and the staff CSV import.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from jiseki.i18n import N_

from .. import audit
from ..auth import accounts, websessions
from ..auth.kana import ReadingError, normalise_reading
from ..auth.passwords import PasswordPolicy, hash_off_loop
from ..db.models import AdminScope, Department, User, utcnow
from ..db.results import rowcount
from .errors import MAX_NAME, AdminError


async def department_id(s: AsyncSession, name: str, known: dict[str, int] | None = None) -> int | None:
    """The department's id, created if new. `known` (name → id) spares a query per row of an import."""
    if not name:
        return None
    if known is not None and name in known:
        return known[name]
    row = (await s.execute(select(Department).where(Department.name == name))).scalar_one_or_none()
    if row is None:
        row = Department(name=name)
        s.add(row)
        await s.flush()
    if known is not None:
        known[name] = row.id
    return row.id


async def departments_by_name(s: AsyncSession) -> dict[str, int]:
    return {name: i for i, name in (await s.execute(select(Department.id, Department.name))).all()}


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


def checked_reading(reading: str) -> str | None:
    """The stored form of a reading (読み仮名), None when empty; AdminError when it cannot be stored."""
    try:
        return normalise_reading(reading)
    except ReadingError as exc:
        raise AdminError(exc.msgid, **exc.values) from None


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
    reading: str | None = None,
) -> str | None:
    """Create an account. Without `password` a temporary one is made, returned, and must be changed.
    `reading` (読み仮名) is stored normalised (hiragana)."""
    if not accounts.valid_login_id(login_id):
        raise AdminError(
            N_("The login ID “{value}” is not valid: use 1-64 letters, digits or . _ - @."), value=login_id[:80]
        )
    _check_profile(display_name, department, role)
    stored_reading = checked_reading(reading or "")
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
            reading=stored_reading,
            department_id=await department_id(s, department),
            role=role,
            password_hash=await _hash_in_thread(password),
            must_change_password=temporary is not None,
        )
    )
    after = {"display_name": display_name, "department": department, "role": role}
    if stored_reading is not None:
        after["reading"] = stored_reading
    s.add(audit.change("user_created", actor=actor, subject=login_id, before=None, after=after, address=address))
    return temporary


async def user(s: AsyncSession, login_id: str) -> User:
    row = await s.get(User, login_id) if accounts.valid_login_id(login_id) else None
    if row is None:
        raise AdminError(N_("There is no staff account “{value}”."), value=login_id[:80])
    return row


async def _other_active_admins(s: AsyncSession, login_id: str) -> int:
    """Active administrators besides `login_id` who look after the whole organisation (no scope)."""
    query = (
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", ~User.disabled, User.id != login_id)
        .where(~exists().where(AdminScope.user_id == User.id))
    )
    return int((await s.execute(query)).scalar_one())


async def _unless_last_admin(s: AsyncSession, login_id: str, values: dict[str, object]) -> None:
    """Write `values` (disabled, or another role) to an active administrator's row only if another
    active administrator remains: one UPDATE whose WHERE counts the others when it runs (SQLite runs
    one writer at a time), after locking the active administrators' rows (PostgreSQL: two of them
    taking each other's rights at once would both count the other). AdminError when none would remain."""
    if await _other_active_admins(s, login_id) == 0:  # the usual case, answered without a lock
        raise AdminError(N_("This is the last administrator; make another administrator first."))
    await s.execute(select(User.id).where(User.role == "admin", ~User.disabled).with_for_update())
    others = aliased(User)
    remaining = (
        select(func.count())
        .select_from(others)
        .where(others.role == "admin", ~others.disabled, others.id != login_id)
        .where(~exists().where(AdminScope.user_id == others.id))  # a delegated one is not enough
        .scalar_subquery()
    )
    guarded = update(User).where(User.id == login_id, remaining > 0).values(**values)
    result = await s.execute(guarded.execution_options(synchronize_session=False))
    if rowcount(result) == 0:
        raise AdminError(N_("This is the last administrator; make another administrator first."))


async def _refuse_last_admin(s: AsyncSession, row: User, values: dict[str, object]) -> None:
    """Refuse to take away the last active administrator (disable, delete or another role): the
    guarded write of `values` (see _unless_last_admin) when `row` is an active administrator."""
    if row.role == "admin" and not row.disabled:
        await _unless_last_admin(s, row.id, values)


async def change_profile(
    s: AsyncSession,
    row: User,
    display_name: str,
    dept_id: int | None,
    role: str,
    *,
    reading: str | None = None,
    set_reading: bool = False,
    email: str | None = None,
    set_email: bool = False,
) -> None:
    """Name, department, role (and the reading with `set_reading`, the mail address for alerts about
    the person's own account with `set_email`): a role change ends the person's web sessions (the new
    rights apply from the next login); the last administrator keeps the role."""
    if role != "admin":
        await _refuse_last_admin(s, row, {"role": role})
    if row.role != role:
        await websessions.end_all_for_user(s, row.id)
    row.display_name, row.department_id, row.role = display_name, dept_id, role
    if set_reading:
        row.reading = reading or None
    if set_email:
        row.email = email or None


async def change_disabled(s: AsyncSession, row: User, disabled: bool) -> None:
    """Disable (signed out everywhere; never the last administrator) or enable an account."""
    if disabled:
        await _refuse_last_admin(s, row, {"disabled": True})
        await websessions.end_all_for_user(s, row.id)
    row.disabled = disabled


async def remove_account(s: AsyncSession, row: User) -> None:
    """Delete an account: its assignments and web sessions go with it; the audit trail stays."""
    await _refuse_last_admin(s, row, {"disabled": True})  # disabled, then deleted, in one transaction
    await websessions.end_all_for_user(s, row.id)
    await s.delete(row)


async def update_user(
    s: AsyncSession,
    login_id: str,
    *,
    display_name: str,
    department: str,
    role: str,
    actor: str | None,
    address: str | None = None,
    reading: str | None = None,
) -> bool:
    """Change name, department, role and (unless `reading` is None) the reading; False if nothing
    changed. An empty `reading` removes it."""
    row = await user(s, login_id)
    _check_profile(display_name, department, role)
    before: dict[str, str | None] = {
        "display_name": row.display_name,
        "department": await department_name(s, row.department_id),
        "role": row.role,
    }
    after: dict[str, str | None] = {"display_name": display_name, "department": department, "role": role}
    if reading is not None:
        before["reading"], after["reading"] = row.reading, checked_reading(reading)
    if before == after:
        return False
    await change_profile(
        s,
        row,
        display_name,
        await department_id(s, department),
        role,
        reading=after.get("reading"),
        set_reading=reading is not None,
    )
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


async def set_local_password(
    s: AsyncSession, login_id: str, allowed: bool, actor: str | None, *, address: str | None = None
) -> bool:
    """Allow or refuse a directory account's password kept here (break-glass), in one conditional
    statement; False when it already was so. Only for directory accounts."""
    row = await user(s, login_id)
    if row.source != "directory":
        raise AdminError(N_("Only an account from the directory has a break-glass password setting."))
    result = await s.execute(
        update(User)
        .where(User.id == login_id, User.source == "directory", User.local_password.is_(not allowed))
        .values(local_password=allowed)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    s.add(
        audit.change(
            "user_local_password",
            actor=actor,
            subject=login_id,
            before={"local_password": not allowed},
            after={"local_password": allowed},
            address=address,
        )
    )
    return True


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
    before = {"disabled": row.disabled}
    await change_disabled(s, row, disabled)
    kind = "user_disabled" if disabled else "user_enabled"
    s.add(
        audit.change(kind, actor=actor, subject=login_id, before=before, after={"disabled": disabled}, address=address)
    )
