"""Staff accounts: the login decision (password, one-time code, lockout) and account changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import ColumnElement, case, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from jiseki.config import AuthConfig
from jiseki.config_directory import DirectoryConfig

from ..db.models import User
from ..db.results import rowcount
from ..directory.client import BindVerdict, Verdict, verify_password
from . import second_factor, totp, webauthn_keys
from .passwords import dummy_hash, hash_off_loop, needs_rehash, verify_off_loop
from .throttle import AddressThrottle

ROLES = ("staff", "helpdesk", "admin", "auditor")
MAX_LOGIN_ID = 64


class LoginResult(Enum):
    OK = "ok"  # password and code right
    ENROLL_TOTP = "enroll_totp"  # password right, no one-time code set up yet
    KEY = "key_required"  # password right, the security key or passkey next (/login/key)
    ENROLL_KEY = "enroll_key"  # password (and code) right, a key must be registered first (/login/key/setup)
    BAD_CREDENTIALS = "bad_credentials"  # wrong ID, password or code (one message for all)
    LOCKED = "locked"
    DISABLED = "disabled"
    ADDRESS_BLOCKED = "address_blocked"
    DIRECTORY_UNAVAILABLE = "directory_unavailable"  # no directory server answered (counts no failure)


@dataclass
class LoginOutcome:
    result: LoginResult
    user: User | None = None
    reason: str = ""  # for the audit trail only (never shown: it would tell an attacker which part was wrong)


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked against the hash stored when it was read (None: no such account), or, for a
    directory account, by the directory (`via`; `directory` keeps its verdict for the audit trail)."""

    stored_hash: str | None
    ok: bool
    via: str = "local"  # local / directory / local_password (a directory account's break-glass password)
    directory: BindVerdict | None = None

    @property
    def unavailable(self) -> bool:
        """No directory server answered and no local password let the person in."""
        return not self.ok and self.directory is not None and self.directory.verdict is Verdict.UNAVAILABLE


async def check_password(
    db: async_sessionmaker[AsyncSession], login_id: str, password: str, directory: DirectoryConfig | None = None
) -> PasswordCheck:
    """Read the hash in a short transaction, then run argon2 (~0.2 s in a worker thread) holding no
    database connection: a rush of logins would otherwise take the whole pool while they hash.

    A directory account (`users.source = "directory"`) is checked by binding to the directory; its
    password here counts only as a break-glass password (`users.local_password` and the setting
    `directory.local_password = "allowed"`), tried first so that it works with the directory down."""
    row = None
    if valid_login_id(login_id):
        async with db() as s:
            query = select(User.password_hash, User.source, User.local_password).where(User.id == login_id)
            row = (await s.execute(query)).first()
    stored = row[0] if row is not None else None
    if row is None or row[1] != "directory":
        ok = await verify_off_loop(stored or dummy_hash(), password)  # an unknown ID costs the same
        return PasswordCheck(stored, ok and stored is not None)
    break_glass = bool(row[2]) and directory is not None and directory.local_password == "allowed"  # noqa: S105
    if break_glass and await verify_off_loop(stored or dummy_hash(), password):
        return PasswordCheck(stored, True, via="local_password")
    if directory is None or not directory.enabled:
        await verify_off_loop(dummy_hash(), password)  # costs what an unknown ID costs
        return PasswordCheck(stored, False, via="directory")
    # The bind takes milliseconds, an unknown ID an argon2 run: both run, so that the answer's time
    # does not tell which IDs are directory accounts.
    verdict, _ = await asyncio.gather(
        verify_password(directory, login_id, password),
        verify_off_loop(dummy_hash(), password) if not break_glass else asyncio.sleep(0),
    )
    return PasswordCheck(stored, verdict.verdict is Verdict.OK, via="directory", directory=verdict)


def _password_still(checked: PasswordCheck) -> list[ColumnElement[bool]]:
    """The row's conditions under which `checked` still holds: the same hash (a local password), or
    still a directory account (a directory password: the hash here plays no part)."""
    if checked.via == "directory":
        return [User.source == "directory"]
    conditions = [User.password_hash == checked.stored_hash]
    if checked.via == "local_password":
        conditions += [User.source == "directory", User.local_password.is_(True)]
    else:
        conditions.append(User.source == "local")
    return conditions


def _password_holds(user: User, checked: PasswordCheck) -> bool:
    """`_password_still` on the loaded row."""
    if checked.via == "directory":
        return user.source == "directory"
    if checked.via == "local_password":
        return user.source == "directory" and user.local_password and user.password_hash == checked.stored_hash
    return user.source == "local" and user.password_hash == checked.stored_hash


def valid_login_id(login_id: str) -> bool:
    return 0 < len(login_id) <= MAX_LOGIN_ID and all(c.isalnum() or c in "._-@" for c in login_id)


def _not_locked(now: dt.datetime) -> ColumnElement[bool]:
    return or_(User.locked_until.is_(None), User.locked_until <= now)


async def _count_failure(s: AsyncSession, user: User, config: AuthConfig, now: dt.datetime) -> bool | None:
    """Count one failure in one statement; True when it locked the account, None when the account
    was locked meanwhile (by a parallel attempt: nothing is counted, the lock is not extended).

    Read-modify-write in Python loses counts when attempts run in parallel (20 of them passed a
    threshold of 5); the database evaluates `failed_logins + 1` and the lock condition on the row
    as it is when the statement runs (PostgreSQL re-checks the WHERE after a concurrent update,
    SQLite runs one writer at a time)."""
    reaching = User.failed_logins + 1 >= config.lockout_threshold
    until = type_coerce(now + dt.timedelta(seconds=config.lockout_seconds), User.locked_until.type)
    row = (
        await s.execute(
            update(User)
            .where(User.id == user.id, _not_locked(now))
            .values(
                failed_logins=case((reaching, 0), else_=User.failed_logins + 1),
                locked_until=case((reaching, until), else_=User.locked_until),
            )
            .returning(User.failed_logins, User.locked_until)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return None
    # Keep the loaded object in step without marking it changed (a flush would write stale values).
    set_committed_value(user, "failed_logins", row[0])
    set_committed_value(user, "locked_until", row[1])
    return bool(row[0] == 0)  # only the locking branch sets 0


async def _failure(
    s: AsyncSession, user: User, config: AuthConfig, now: dt.datetime, result: LoginResult, reason: str
) -> LoginOutcome:
    counted = await _count_failure(s, user, config, now)
    if counted is None:
        return LoginOutcome(LoginResult.LOCKED, user, reason="locked")
    return LoginOutcome(LoginResult.LOCKED if counted else result, user, reason=reason)


async def _accept(
    s: AsyncSession, user: User, checked: PasswordCheck, now: dt.datetime, values: dict[str, object], step: int | None
) -> bool:
    """Write a successful login's `values` only if the account is, in the same statement, still
    unlocked, enabled and holding the checked password, and `step` (the code's time step) is newer
    than the stored one: among parallel logins with one code, exactly one changes the row."""
    conditions = [User.id == user.id, _not_locked(now), User.disabled.is_(False), *_password_still(checked)]
    if step is not None:
        conditions.append(User.totp_last_step < step)
        values = {**values, "totp_last_step": step}
    result = await s.execute(
        update(User).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    for key, value in values.items():  # in step with the row, without a flush writing them again
        set_committed_value(user, key, value)
    return True


async def _lost(
    s: AsyncSession, user: User, config: AuthConfig, checked: PasswordCheck, now: dt.datetime, step: int | None
) -> LoginOutcome:
    """A parallel change won between the read and `_accept`: read the row again to name the reason."""
    await s.execute(select(User).where(User.id == user.id).execution_options(populate_existing=True))
    if user.locked_until is not None and user.locked_until > now:
        return LoginOutcome(LoginResult.LOCKED, user, reason="locked")
    if user.disabled:
        return LoginOutcome(LoginResult.DISABLED, user, reason="disabled")
    if not _password_holds(user, checked):
        return LoginOutcome(LoginResult.BAD_CREDENTIALS, user, reason="password_changed")
    if step is not None and user.totp_last_step >= step:
        return await _failure(s, user, config, now, LoginResult.BAD_CREDENTIALS, "totp_replay")
    return LoginOutcome(LoginResult.BAD_CREDENTIALS, user, reason="changed_meanwhile")


async def authenticate(
    s: AsyncSession,
    config: AuthConfig,
    throttle: AddressThrottle,
    box: totp.SecretBox,
    login_id: str,
    password: str,
    checked: PasswordCheck,
    code: str,
    address: str,
    now: dt.datetime,
) -> LoginOutcome:
    """Decide one login attempt and update the account (failures, lockout, last step) in `s`.

    `checked` is `check_password`'s verdict, made before this transaction; it counts only if the
    stored hash is still the one it was checked against. Every write is one conditional statement
    (see `_count_failure`, `_accept`): parallel attempts cannot both use one code or lose a failure."""
    user = await s.get(User, login_id) if valid_login_id(login_id) else None
    if throttle.blocked(address):
        return LoginOutcome(LoginResult.ADDRESS_BLOCKED, user, reason="address_throttled")
    if user is None:
        throttle.failed(address)
        return LoginOutcome(LoginResult.BAD_CREDENTIALS, reason="unknown_user")
    if user.locked_until is not None and user.locked_until > now:
        throttle.failed(address)  # nothing counted on the account: a locked account's lock is not extended
        return LoginOutcome(LoginResult.LOCKED, user, reason="locked")
    if checked.unavailable:  # the directory's fault, not the person's: nothing counted
        return LoginOutcome(LoginResult.DIRECTORY_UNAVAILABLE, user, reason="directory_unavailable")
    if not (checked.ok and _password_holds(user, checked)):
        throttle.failed(address)
        refused = checked.directory is not None and checked.directory.verdict is Verdict.REFUSED
        reason = checked.directory.reason if refused and checked.directory else "wrong_password"
        return await _failure(s, user, config, now, LoginResult.BAD_CREDENTIALS, reason)
    if user.disabled:
        throttle.failed(address)  # like any failure: the address throttle must not tell it apart
        return LoginOutcome(LoginResult.DISABLED, user, reason="disabled")
    factor = await second_factor.effective(s, user)
    totp_ready = bool(user.totp_enabled and user.totp_secret)
    has_keys = factor != second_factor.TOTP and await webauthn_keys.key_count(s, user.id) > 0
    if has_keys and (factor == second_factor.WEBAUTHN or not code.strip() or not totp_ready):
        # Nothing is written yet: the failure count is reset only once the key has answered.
        return LoginOutcome(LoginResult.KEY, user, reason="key_required")
    values: dict[str, object] = {"failed_logins": 0}
    # Rare: after the hashing parameters change. Never for a directory password: it is not kept here.
    if checked.via != "directory" and needs_rehash(user.password_hash):
        values["password_hash"] = await hash_off_loop(password)
    if factor == second_factor.WEBAUTHN and not totp_ready:  # first login: register a key
        if not await _accept(s, user, checked, now, values, None):
            throttle.failed(address)
            return await _lost(s, user, config, checked, now, None)
        return LoginOutcome(LoginResult.ENROLL_KEY, user, reason="key_not_enrolled")
    if not user.totp_enabled or not user.totp_secret:
        if not await _accept(s, user, checked, now, values, None):
            throttle.failed(address)
            return await _lost(s, user, config, checked, now, None)
        return LoginOutcome(LoginResult.ENROLL_TOTP, user, reason="totp_not_enrolled")
    secret = box.open(user.totp_secret)
    step = totp.verify(secret, code, user.totp_last_step, now.timestamp())
    if step is None:
        throttle.failed(address)
        replay = bool(code.strip()) and totp.verify(secret, code, -1, now.timestamp()) is not None
        return await _failure(
            s, user, config, now, LoginResult.BAD_CREDENTIALS, "totp_replay" if replay else "wrong_code"
        )
    values.update(locked_until=None, last_login_at=now)
    if not await _accept(s, user, checked, now, values, step):
        throttle.failed(address)
        return await _lost(s, user, config, checked, now, step)
    if factor == second_factor.WEBAUTHN:  # the code proved who it is; a key must now be registered
        return LoginOutcome(LoginResult.ENROLL_KEY, user, reason="key_not_enrolled")
    return LoginOutcome(LoginResult.OK, user)


async def key_failure(s: AsyncSession, user: User, config: AuthConfig, now: dt.datetime, reason: str) -> LoginOutcome:
    """A security key's wrong answer at login counts toward lockout as a wrong code does."""
    return await _failure(s, user, config, now, LoginResult.BAD_CREDENTIALS, reason)


async def key_success(s: AsyncSession, user: User, now: dt.datetime) -> bool:
    """The key answered: the login completes if the account is, in the same statement, still
    unlocked and enabled (the password was checked when the key stage began)."""
    result = await s.execute(
        update(User)
        .where(User.id == user.id, _not_locked(now), User.disabled.is_(False))
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    for key, value in (("failed_logins", 0), ("locked_until", None), ("last_login_at", now)):
        set_committed_value(user, key, value)
    return True


def confirm_totp(user: User, box: totp.SecretBox, secret: str, code: str, now: dt.datetime) -> bool:
    """Finish enrolment: the first code proves the authenticator app has the secret."""
    step = totp.verify(secret, code, -1, now.timestamp())
    if step is None:
        return False
    user.totp_secret = box.seal(secret)
    user.totp_enabled = True
    user.totp_last_step = step
    user.last_login_at = now
    return True


def temporary_password() -> str:
    """16 characters with all four classes, from an alphabet without look-alikes.

    The first is a letter or digit: Excel reads a cell starting with = + - @ as a formula, which
    would show #NAME? instead of the password in the initial-passwords CSV."""
    lower, upper, digits, symbols = "abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "#%+-=?@"
    first, alphabet = lower + upper + digits, lower + upper + digits + symbols
    while True:
        pw = secrets.choice(first) + "".join(secrets.choice(alphabet) for _ in range(15))
        if all(any(c in cls for c in pw) for cls in (lower, upper, digits, symbols)):
            return pw


def unlock(user: User) -> None:
    user.locked_until = None
    user.failed_logins = 0


def reset_totp(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = 0
