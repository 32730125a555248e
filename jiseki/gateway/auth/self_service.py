"""What a staff member does with their own login: log in and out, set up the one-time code, change
the password, choose the language. Each is one transaction with its audit event; the web pages only
read the form and answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.config import AuthConfig
from jiseki.config_directory import DirectoryConfig

from .. import audit
from ..audit import pseudonym
from ..db.models import User, utcnow
from . import accounts, totp, websessions
from .accounts import LoginOutcome, LoginResult
from .passwords import hash_off_loop
from .throttle import AddressThrottle


@dataclass(frozen=True)
class LoginAttempt:
    outcome: LoginOutcome
    cookie: str | None  # the new web session's cookie when the login went on (to the portal or to enrolment)


def audit_actor(box: totp.SecretBox, user: User | None, login_id: str) -> str | None:
    """A known account's ID as it is; anything else typed may be a password: a keyed hash."""
    if user is not None:
        return user.id
    return pseudonym.unknown_login_id(box.derive_key(pseudonym.KEY_LABEL), login_id) if login_id else None


async def log_in(
    db: async_sessionmaker[AsyncSession],
    config: AuthConfig,
    throttle: AddressThrottle,
    box: totp.SecretBox,
    *,
    login_id: str,
    password: str,
    code: str,
    terminal_id: str,
    old_cookie: str | None,
    address: str | None,
    now: dt.datetime | None = None,
    directory: DirectoryConfig | None = None,
) -> LoginAttempt:
    """One login attempt on a terminal: the password is checked first, holding no connection (argon2
    takes ~0.2 s), then the decision, the new web session and the audit event in one transaction."""
    if throttle.blocked(address or ""):
        checked = accounts.PasswordCheck(None, False)  # refused below without spending argon2 on it
    else:
        checked = await accounts.check_password(db, login_id, password, directory)
    now = now or utcnow()
    async with db.begin() as s:
        outcome = await accounts.authenticate(
            s, config, throttle, box, login_id, password, checked, code, address or "", now
        )
        cookie = None
        stage = _STAGES.get(outcome.result)
        if stage is not None and outcome.user is not None:
            if outcome.result is LoginResult.OK:
                # A directory password is changed in the directory (Windows), never here.
                change = outcome.user.must_change_password and checked.via == "local"
                stage = websessions.STAGE_CHANGE_PASSWORD if change else websessions.STAGE_FULL
            await websessions.end(s, old_cookie)  # rotation: never reuse an id
            cookie = await websessions.create(s, config, outcome.user.id, terminal_id, stage, address, now)
        audit.add(
            s,
            "login",
            "ok" if cookie else "denied",
            actor=audit_actor(box, outcome.user, login_id),
            subject=terminal_id,
            address=address,
            result=outcome.result.value,
            reason=outcome.reason,
            factor=_FACTORS.get(outcome.reason, "totp" if code.strip() else "password"),
            **({"via": checked.via} if checked.via != "local" else {}),
        )
    return LoginAttempt(outcome, cookie)


_STAGES = {
    LoginResult.OK: websessions.STAGE_FULL,
    LoginResult.ENROLL_TOTP: websessions.STAGE_ENROLL_TOTP,
    LoginResult.KEY: websessions.STAGE_KEY,
    LoginResult.ENROLL_KEY: websessions.STAGE_ENROLL_KEY,
}
# The factor an audited login attempt was decided on (`factor` of the "login" event).
_FACTORS = {"wrong_password": "password", "unknown_user": "password", "key_required": "password"}


async def _user(s: AsyncSession, user_id: str) -> User:
    user = await s.get(User, user_id)
    assert user is not None  # the caller's web session holds the account (deleting it ends its sessions)
    return user


async def totp_secret_to_enrol(s: AsyncSession, box: totp.SecretBox, user_id: str) -> str:
    """The secret the authenticator app is to learn; made (sealed) on first sight, enabled only once a
    code confirms it (`confirm_totp`)."""
    user = await _user(s, user_id)
    if not user.totp_secret:
        user.totp_secret = box.seal(totp.new_secret())
    return box.open(user.totp_secret)


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # shown again after a wrong code
    cookie: str | None  # the rotated web session's cookie once a code confirmed the secret; None: wrong code


async def confirm_totp(
    s: AsyncSession,
    box: totp.SecretBox,
    config: AuthConfig,
    loaded: websessions.LoadedSession,
    code: str,
    address: str | None,
    now: dt.datetime,
) -> TotpEnrolment:
    """The first code proves the app has the secret: the login goes on (to the password change if one
    is due) in a new web session."""
    user = await _user(s, loaded.user.id)
    assert user.totp_secret
    secret = box.open(user.totp_secret)
    ok = accounts.confirm_totp(user, box, secret, code, now)
    audit.add(s, "totp_enrolled", "ok" if ok else "denied", actor=user.id, address=address)
    if not ok:
        return TotpEnrolment(secret, None)
    session_row = await s.merge(loaded.row)
    next_stage = websessions.STAGE_CHANGE_PASSWORD if user.must_change_password else websessions.STAGE_FULL
    cookie = await websessions.rotate(s, websessions.LoadedSession(session_row, user), config, next_stage, now)
    return TotpEnrolment(secret, cookie)


async def change_password(
    s: AsyncSession,
    config: AuthConfig,
    user_id: str,
    terminal_id: str,
    new_password: str,
    address: str | None,
    now: dt.datetime,
) -> str:
    """Set a new password (already checked against the rules); every web session of the account ends
    and this browser gets a new one, whose cookie is returned."""
    user = await _user(s, user_id)
    user.password_hash = await hash_off_loop(new_password)
    user.password_changed_at = now
    user.must_change_password = False
    # Other browsers signed in with the old password are signed out; this one gets a new session.
    await websessions.end_all_for_user(s, user.id)
    cookie = await websessions.create(s, config, user.id, terminal_id, websessions.STAGE_FULL, address, now)
    audit.add(s, "password_change", "ok", actor=user.id, address=address)
    return cookie


async def log_out(s: AsyncSession, cookie: str | None, user_id: str | None, address: str | None) -> None:
    """End this browser's web session (audited when it belonged to someone)."""
    await websessions.end(s, cookie)
    if user_id is not None:
        audit.add(s, "logout", "ok", actor=user_id, address=address)


async def log_out_everywhere(s: AsyncSession, user_id: str, address: str | None) -> None:
    await websessions.end_all_for_user(s, user_id)
    audit.add(s, "logout_everywhere", "ok", actor=user_id, address=address)


async def set_language(s: AsyncSession, user_id: str, language: str) -> None:
    """The account's language for pages and exports (checked by the caller against the catalogues)."""
    await s.execute(update(User).where(User.id == user_id).values(language=language))
