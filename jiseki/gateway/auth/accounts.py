"""Staff accounts: the login decision (password, one-time code, lockout) and account changes."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.config import AuthConfig

from ..db.models import User
from . import totp
from .passwords import DUMMY_HASH, hash_off_loop, needs_rehash, verify_off_loop
from .throttle import AddressThrottle

ROLES = ("staff", "helpdesk", "admin", "auditor")
MAX_LOGIN_ID = 64


class LoginResult(Enum):
    OK = "ok"  # password and code right
    ENROLL_TOTP = "enroll_totp"  # password right, no one-time code set up yet
    BAD_CREDENTIALS = "bad_credentials"  # wrong ID, password or code (one message for all)
    LOCKED = "locked"
    DISABLED = "disabled"
    ADDRESS_BLOCKED = "address_blocked"


@dataclass
class LoginOutcome:
    result: LoginResult
    user: User | None = None
    reason: str = ""  # for the audit trail only (never shown: it would tell an attacker which part was wrong)


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked against the hash stored when it was read (None: no such account)."""

    stored_hash: str | None
    ok: bool


async def check_password(db: async_sessionmaker[AsyncSession], login_id: str, password: str) -> PasswordCheck:
    """Read the hash in a short transaction, then run argon2 (~0.2 s in a worker thread) holding no
    database connection: a rush of logins would otherwise take the whole pool while they hash."""
    stored = None
    if valid_login_id(login_id):
        async with db() as s:
            stored = (await s.execute(select(User.password_hash).where(User.id == login_id))).scalar_one_or_none()
    ok = await verify_off_loop(stored or DUMMY_HASH, password)  # an unknown ID costs the same
    return PasswordCheck(stored, ok and stored is not None)


def valid_login_id(login_id: str) -> bool:
    return 0 < len(login_id) <= MAX_LOGIN_ID and all(c.isalnum() or c in "._-@" for c in login_id)


def _fail(user: User, config: AuthConfig, now: dt.datetime) -> bool:
    """Count a failure; True when this failure locked the account."""
    user.failed_logins += 1
    if user.failed_logins >= config.lockout_threshold:
        user.locked_until = now + dt.timedelta(seconds=config.lockout_seconds)
        user.failed_logins = 0
        return True
    return False


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
    stored hash is still the one it was checked against."""
    if throttle.blocked(address):
        return LoginOutcome(LoginResult.ADDRESS_BLOCKED, reason="address_throttled")
    user = await s.get(User, login_id) if valid_login_id(login_id) else None
    if user is None:
        throttle.failed(address)
        return LoginOutcome(LoginResult.BAD_CREDENTIALS, reason="unknown_user")
    if user.locked_until is not None and user.locked_until > now:
        throttle.failed(address)
        return LoginOutcome(LoginResult.LOCKED, user, reason="locked")
    if not (checked.ok and checked.stored_hash == user.password_hash):
        throttle.failed(address)
        locked = _fail(user, config, now)
        return LoginOutcome(
            LoginResult.LOCKED if locked else LoginResult.BAD_CREDENTIALS, user, reason="wrong_password"
        )
    if user.disabled:
        return LoginOutcome(LoginResult.DISABLED, user, reason="disabled")
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_off_loop(password)  # rare: after the hashing parameters change
    if not user.totp_enabled or not user.totp_secret:
        user.failed_logins = 0
        return LoginOutcome(LoginResult.ENROLL_TOTP, user, reason="totp_not_enrolled")
    step = totp.verify(box.open(user.totp_secret), code, user.totp_last_step, now.timestamp())
    if step is None:
        throttle.failed(address)
        replay = bool(code.strip()) and totp.verify(box.open(user.totp_secret), code, -1, now.timestamp()) is not None
        locked = _fail(user, config, now)
        return LoginOutcome(
            LoginResult.LOCKED if locked else LoginResult.BAD_CREDENTIALS,
            user,
            reason="totp_replay" if replay else "wrong_code",
        )
    user.totp_last_step = step
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return LoginOutcome(LoginResult.OK, user)


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
