"""Administrative operations shared by the CLI and the admin console.

Every change writes one audit event with the actor, the subject and the changed fields before and
after (`audit.change`); never secrets. Who may call what is decided by the caller (the console's
permission table; the CLI runs with the operator's full rights on the server).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from . import audit, enrollment, hosts, policies_db, terminals
from .assignments_csv import AssignmentRow
from .auth import accounts, websessions
from .auth.passwords import PasswordPolicy, hash_off_loop, hash_password
from .auth.users_csv import RowError, StaffRow
from .db.models import Assignment, Department, EnrollmentToken, Host, Session, Terminal, User, utcnow
from .pki import CertificateAuthority, PKIError

MAX_NAME = 255
MAX_REASON = 200
TOKEN_HOURS = (0.25, 24.0 * 14)  # the shortest and longest validity of an enrollment token


class AdminError(Exception):
    """A request an administrator can correct. `msgid` (with `values`) is shown in their language."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid.format(**values))
        self.msgid = msgid
        self.values = values


# ---- staff accounts -----------------------------------------------------------------------------


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


# ---- staff CSV import ---------------------------------------------------------------------------


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


# ---- assignments --------------------------------------------------------------------------------


async def assign(
    s: AsyncSession, login_id: str, host_id: str, actor: str | None, *, address: str | None = None
) -> bool:
    """Let `login_id` use `host_id`; False if it already could."""
    try:
        added = await hosts.assign(s, login_id, host_id)
    except LookupError:
        if await s.get(User, login_id) is None:
            raise AdminError(N_("There is no staff account “{value}”."), value=login_id[:80]) from None
        raise AdminError(N_("There is no office PC “{value}”."), value=host_id[:80]) from None
    if added:
        s.add(
            audit.change(
                "assigned", actor=actor, subject=host_id, before=None, after={"user": login_id}, address=address
            )
        )
    return added


async def unassign(
    s: AsyncSession, login_id: str, host_id: str, actor: str | None, *, address: str | None = None
) -> bool:
    if await s.get(Assignment, (login_id, host_id)) is None:
        return False
    await hosts.unassign(s, login_id, host_id)
    s.add(
        audit.change("unassigned", actor=actor, subject=host_id, before={"user": login_id}, after=None, address=address)
    )
    return True


@dataclass(frozen=True)
class AssignmentCheck:
    valid: list[AssignmentRow]
    unchanged: list[AssignmentRow]  # already as asked (assigned, or not assigned for a removal)
    errors: list[RowError]


async def check_assignments(s: AsyncSession, rows: list[AssignmentRow], errors: list[RowError]) -> AssignmentCheck:
    """Which rows would change something, which change nothing, and which name unknown staff or PCs."""
    errors = list(errors)
    user_ids, host_ids = {r.login_id for r in rows}, {r.host_id for r in rows}
    known_users: set[str] = set()
    known_hosts: set[str] = set()
    current: set[tuple[str, str]] = set()
    for ids, column, into in ((user_ids, User.id, known_users), (host_ids, Host.id, known_hosts)):
        listed = sorted(ids)
        for start in range(0, len(listed), 500):
            into |= set((await s.execute(select(column).where(column.in_(listed[start : start + 500])))).scalars())
    listed_users = sorted(user_ids & known_users)
    for start in range(0, len(listed_users), 500):
        query = select(Assignment.user_id, Assignment.host_id).where(
            Assignment.user_id.in_(listed_users[start : start + 500])
        )
        current |= {(u, h) for u, h in (await s.execute(query)).all()}
    valid, unchanged = [], []
    for row in rows:
        cells = (row.login_id, row.host_id, row.action)
        if row.login_id not in known_users:
            errors.append(
                RowError(row.line, N_("There is no staff account “{value}”."), {"value": row.login_id}, cells)
            )
        elif row.host_id not in known_hosts:
            errors.append(RowError(row.line, N_("There is no office PC “{value}”."), {"value": row.host_id}, cells))
        elif ((row.login_id, row.host_id) in current) == (row.action == "assign"):
            unchanged.append(row)
        else:
            valid.append(row)
    return AssignmentCheck(valid, unchanged, sorted(errors, key=lambda e: e.line))


async def import_assignments(
    s: AsyncSession, rows: list[AssignmentRow], errors: list[RowError], actor: str | None, *, address: str | None = None
) -> AssignmentCheck:
    checked = await check_assignments(s, rows, errors)
    for row in checked.valid:
        if row.action == "assign":
            await assign(s, row.login_id, row.host_id, actor, address=address)
        else:
            await unassign(s, row.login_id, row.host_id, actor, address=address)
    s.add(
        audit.event(
            "assignments_imported",
            "ok",
            actor=actor,
            address=address,
            changed=len(checked.valid),
            unchanged=len(checked.unchanged),
            errors=len(checked.errors),
        )
    )
    return checked


# ---- terminals ----------------------------------------------------------------------------------


def _check_terminal(terminal_id: str, name: str) -> None:
    if not terminals.valid_terminal_id(terminal_id):
        raise AdminError(N_("Terminal IDs use letters, digits, “.”, “_” and “-” (at most 64)."))
    if not name or len(name) > MAX_NAME:
        raise AdminError(N_("The name must be 1-255 characters."))


async def _terminal_before(s: AsyncSession, terminal_id: str, reissue: bool) -> dict[str, Any] | None:
    row = await s.get(Terminal, terminal_id)
    if row is not None and not reissue:
        raise AdminError(N_("The terminal ID “{value}” already exists."), value=terminal_id)
    if row is None and reissue:
        raise AdminError(N_("There is no terminal “{value}”."), value=terminal_id[:80])
    return None if row is None else {"name": row.name, "state": row.state, "certificate": row.cert_fingerprint}


async def issue_terminal_pkcs12(
    s: AsyncSession,
    ca: CertificateAuthority,
    terminal_id: str,
    name: str,
    lifetime: dt.timedelta,
    actor: str | None,
    *,
    reissue: bool = False,
    address: str | None = None,
) -> terminals.TerminalBundle:
    """A new terminal (or a new certificate for a known one) as a PKCS#12 bundle with a one-time password.

    The bundle and its password go to the caller only: neither is stored nor recorded.
    """
    _check_terminal(terminal_id, name)
    before = await _terminal_before(s, terminal_id, reissue)
    bundle = await terminals.issue_pkcs12(s, ca, terminal_id, name, lifetime)
    row = await s.get(Terminal, terminal_id)
    assert row is not None
    after = {"name": name, "state": row.state, "certificate": row.cert_fingerprint}
    kind = "terminal_reissued" if reissue else "terminal_registered"
    s.add(
        audit.change(
            kind, actor=actor, subject=terminal_id, before=before, after=after, address=address, method="pkcs12"
        )
    )
    return bundle


async def issue_terminal_csr(
    s: AsyncSession,
    ca: CertificateAuthority,
    terminal_id: str,
    name: str,
    csr: bytes,
    lifetime: dt.timedelta,
    actor: str | None,
    *,
    reissue: bool = False,
    address: str | None = None,
) -> bytes:
    """The certificate chain (PEM) for a CSR made on the terminal."""
    _check_terminal(terminal_id, name)
    before = await _terminal_before(s, terminal_id, reissue)
    try:
        chain = await terminals.sign_terminal_csr(s, ca, terminal_id, name, csr, lifetime)
    except PKIError as exc:
        raise AdminError(N_("The certificate request was refused: {reason}"), reason=str(exc)) from None
    row = await s.get(Terminal, terminal_id)
    assert row is not None
    after = {"name": name, "state": row.state, "certificate": row.cert_fingerprint}
    kind = "terminal_reissued" if reissue else "terminal_registered"
    s.add(
        audit.change(kind, actor=actor, subject=terminal_id, before=before, after=after, address=address, method="csr")
    )
    return chain


async def revoke_terminal(
    s: AsyncSession, terminal_id: str, reason: str, actor: str | None, *, address: str | None = None
) -> None:
    row = await s.get(Terminal, terminal_id)
    if row is None:
        raise AdminError(N_("There is no terminal “{value}”."), value=terminal_id[:80])
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise AdminError(N_("Please give a reason."))
    before = {"state": row.state}
    await terminals.revoke_terminal(s, terminal_id, reason)
    s.add(
        audit.change(
            "terminal_revoked",
            actor=actor,
            subject=terminal_id,
            before=before,
            after={"state": "revoked"},
            address=address,
            reason=reason,
        )
    )


# ---- office PCs ---------------------------------------------------------------------------------


async def create_enrollment_token(
    s: AsyncSession,
    ca: CertificateAuthority,
    host_id: str,
    name: str,
    hours: float,
    actor: str | None,
    *,
    address: str | None = None,
) -> str:
    """A one-time token for one office PC's agent (shown once; only its hash is stored)."""
    if not hosts.valid_host_id(host_id):
        raise AdminError(N_("PC IDs use letters, digits, “.”, “_” and “-” (at most 64)."))
    if not name or len(name) > MAX_NAME:
        raise AdminError(N_("The name must be 1-255 characters."))
    if not TOKEN_HOURS[0] <= hours <= TOKEN_HOURS[1]:
        raise AdminError(
            N_("The validity must be from {low} to {high} hours."), low=TOKEN_HOURS[0], high=TOKEN_HOURS[1]
        )
    now = utcnow()
    token = await enrollment.create(s, ca.root_fingerprint, host_id, name, dt.timedelta(hours=hours), actor, now)
    after = {"host_name": name, "expires_at": now + dt.timedelta(hours=hours)}
    s.add(audit.change("enrollment_token", actor=actor, subject=host_id, before=None, after=after, address=address))
    return token


async def cancel_enrollment_token(
    s: AsyncSession, token_id: str, actor: str | None, *, address: str | None = None
) -> None:
    row = await s.get(EnrollmentToken, token_id) if len(token_id) == 64 else None
    if row is None or row.used_at is not None:
        raise AdminError(N_("This token was already used or cancelled."))
    await s.execute(delete(EnrollmentToken).where(EnrollmentToken.id == token_id))
    s.add(
        audit.change(
            "enrollment_token_cancelled",
            actor=actor,
            subject=row.host_id,
            before={"expires_at": row.expires_at},
            after=None,
            address=address,
        )
    )


async def revoke_host(
    s: AsyncSession, host_id: str, reason: str, actor: str | None, *, address: str | None = None
) -> None:
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise AdminError(N_("Please give a reason."))
    if not await hosts.revoke_host(s, host_id, reason):
        raise AdminError(N_("There is no office PC “{value}”."), value=host_id[:80])
    s.add(
        audit.change(
            "host_revoked",
            actor=actor,
            subject=host_id,
            before={"certificate": "valid"},
            after={"certificate": "revoked"},
            address=address,
            reason=reason,
        )
    )


async def register_host(
    s: AsyncSession,
    ca: CertificateAuthority,
    host_id: str,
    name: str,
    out_dir: Path,
    lifetime: dt.timedelta,
    actor: str | None,
    *,
    address: str | None = None,
) -> Host:
    """Register an office PC directly: its key is made here and its agent files written to `out_dir`
    (demo, tests; an office PC normally enrolls with a token and keeps its key)."""
    if not hosts.valid_host_id(host_id):
        raise AdminError(N_("PC IDs use letters, digits, “.”, “_” and “-” (at most 64)."))
    if not name or len(name) > MAX_NAME:
        raise AdminError(N_("The name must be 1-255 characters."))
    existing = await s.get(Host, host_id)
    before = {"host_name": existing.name, "cert_serial": existing.cert_serial} if existing is not None else None
    host = await hosts.register_host(s, ca, host_id, name, out_dir, lifetime)
    after = {"host_name": host.name, "cert_serial": host.cert_serial}
    s.add(audit.change("host_registered", actor=actor, subject=host_id, before=before, after=after, address=address))
    return host


# ---- policies and host groups -------------------------------------------------------------------


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


# ---- sessions -----------------------------------------------------------------------------------

HOLD_MINUTES = (0, 10, 60, 480)  # how long the staff member cannot reconnect after an administrator's end


async def record_session_end(
    s: AsyncSession,
    session_id: str,
    message: str,
    hold_minutes: int,
    actor: str | None,
    *,
    address: str | None = None,
) -> Session | None:
    """Write the administrator's message and the reconnect hold before the session is closed.

    The caller then closes the live sockets (`Broker.close_session`); the relay records the end
    itself. None if the session has already ended.
    """
    message = message.strip()
    if not message:
        raise AdminError(N_("Please give a reason. The staff member sees it."))
    if len(message) > MAX_REASON:
        raise AdminError(N_("The reason must be at most {n} characters."), n=MAX_REASON)
    if hold_minutes not in HOLD_MINUTES:
        raise AdminError(N_("Please choose when the staff member may reconnect."))
    row = await s.get(Session, session_id) if len(session_id) <= 64 else None
    if row is None or row.state == "ended":
        return None
    now = utcnow()
    row.end_message = message
    row.ended_by = actor
    row.reconnect_after = now + dt.timedelta(minutes=hold_minutes) if hold_minutes else None
    s.add(
        audit.change(
            "session_ended_by_admin",
            actor=actor,
            subject=row.host_id,
            before={"state": row.state},
            after={"state": "ended"},
            address=address,
            session=session_id,
            user=row.user_id,
            message=message,
            hold_minutes=hold_minutes,
        )
    )
    return row
