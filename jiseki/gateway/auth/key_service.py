"""What a staff member does with security keys and passkeys: log in with one (after the password),
register one (at first login or from the portal), rename and remove them. Each is one transaction
with its audit events; the pages only read the request and answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.config import AuthConfig
from jiseki.i18n import N_

from .. import audit
from ..db.models import User
from . import accounts, second_factor, websessions
from .accounts import LoginResult
from .throttle import AddressThrottle
from .webauthn_keys import (
    Answer,
    KeyInputError,
    RelyingParty,
    Verdict,
    keys_of,
    register,
    registration_options,
    remove,
    verify_assertion,
)

REFUSED = N_("The security key was not accepted. Try again, or contact the helpdesk if it keeps failing.")
LOCKED = N_("The login ID, password or one-time code is wrong. If it keeps failing, please contact the helpdesk.")


@dataclass(frozen=True)
class KeyLogin:
    cookie: str | None  # the full (or password-change) session's cookie once the key answered
    message: str = ""  # catalogue msgid of the refusal
    result: LoginResult = LoginResult.OK


def _next_stage(user: User) -> str:
    return websessions.STAGE_CHANGE_PASSWORD if user.must_change_password else websessions.STAGE_FULL


async def _user(s: AsyncSession, user_id: str) -> User:
    user = await s.get(User, user_id)
    assert user is not None  # the web session holds the account (deleting it ends its sessions)
    return user


async def log_in_with_key(
    db: async_sessionmaker[AsyncSession],
    config: AuthConfig,
    throttle: AddressThrottle,
    rp: RelyingParty,
    loaded: websessions.LoadedSession,
    answer: Answer,
    address: str | None,
    now: dt.datetime,
) -> KeyLogin:
    """The key's answer at login: a new full session, or a failure counted toward lockout (a
    counter that did not grow is also audited as a suspected clone)."""
    async with db.begin() as s:
        user = await _user(s, loaded.user.id)
        checked = await verify_assertion(s, rp, user.id, loaded.row.id, answer, now)
        key_fields = {"key": checked.key.id, "key_name": checked.key.name} if checked.key is not None else {}
        if checked.verdict is Verdict.OK and await accounts.key_success(s, user, now):
            session_row = await s.merge(loaded.row)
            cookie = await websessions.rotate(
                s, websessions.LoadedSession(session_row, user), config, _next_stage(user), now
            )
            audit.add(
                s, "login", "ok", actor=user.id, subject=loaded.row.terminal_id, address=address,
                result=LoginResult.OK.value, factor="webauthn", **key_fields,
            )  # fmt: skip
            return KeyLogin(cookie)
        throttle.failed(address or "")
        if checked.verdict is Verdict.OK:  # locked or disabled meanwhile
            reason = "disabled" if user.disabled else "locked"
            outcome = accounts.LoginOutcome(LoginResult.LOCKED, user, reason=reason)
        else:
            reason = checked.verdict.value
            outcome = await accounts.key_failure(s, user, config, now, reason)
        if checked.verdict is Verdict.CLONE:
            audit.add(
                s, "webauthn_clone_suspected", "denied", actor=user.id, subject=user.id, address=address,
                sign_count=checked.sign_count, stored_count=checked.key.sign_count if checked.key else None,
                **key_fields,
            )  # fmt: skip
        if outcome.result is LoginResult.LOCKED:
            await websessions.end_all_for_user(s, user.id)  # back to the login page, as a locked login is
        audit.add(
            s, "login", "denied", actor=user.id, subject=loaded.row.terminal_id, address=address,
            result=outcome.result.value, reason=outcome.reason, factor="webauthn", **key_fields,
        )  # fmt: skip
        return KeyLogin(None, LOCKED if outcome.result is LoginResult.LOCKED else REFUSED, outcome.result)


async def registration_options_for(
    s: AsyncSession, rp: RelyingParty, loaded: websessions.LoadedSession, now: dt.datetime
) -> str:
    """The options to register a key for the session's account (a new challenge on the session)."""
    return await registration_options(s, rp, await _user(s, loaded.user.id), loaded.row.id, now)


async def add_key(
    s: AsyncSession,
    rp: RelyingParty,
    loaded: websessions.LoadedSession,
    answer: Answer,
    name: str,
    address: str | None,
    now: dt.datetime,
) -> None:
    """Register a key for the logged-in account (the portal's page); audited."""
    user = await _user(s, loaded.user.id)
    key = await register(s, rp, user, loaded.row.id, answer, name, now)
    audit.add(
        s, "webauthn_registered", "ok", actor=user.id, subject=user.id, address=address,
        key=key.id, key_name=key.name, passkey=bool(key.backed_up),
    )  # fmt: skip


async def enrol_key_at_login(
    s: AsyncSession,
    config: AuthConfig,
    rp: RelyingParty,
    loaded: websessions.LoadedSession,
    answer: Answer,
    name: str,
    address: str | None,
    now: dt.datetime,
) -> str:
    """The first key, registered at first login: the login completes in a new session (its cookie)."""
    await add_key(s, rp, loaded, answer, name, address, now)
    user = await _user(s, loaded.user.id)
    if not await accounts.key_success(s, user, now):
        raise KeyInputError(LOCKED, "locked meanwhile")
    session_row = await s.merge(loaded.row)
    cookie = await websessions.rotate(s, websessions.LoadedSession(session_row, user), config, _next_stage(user), now)
    audit.add(
        s, "login", "ok", actor=user.id, subject=loaded.row.terminal_id, address=address,
        result=LoginResult.OK.value, factor="webauthn", reason="key_enrolled",
    )  # fmt: skip
    return cookie


LAST_FACTOR = N_(
    "This is your last security key or passkey, and your department's login needs one: register another key before removing this one."  # noqa: E501
)


async def remove_own_key(s: AsyncSession, user: User, key_id: int, address: str | None) -> None:
    """Remove one of one's own keys. The last one stays when nothing else would let the account log in
    under its policy (security keys only; or either, without a one-time code set up)."""
    factor = await second_factor.effective(s, user)
    keep_one = factor == second_factor.WEBAUTHN or (factor == second_factor.EITHER and not user.totp_enabled)
    names = {k.id: k.name for k in await keys_of(s, user.id)}
    if key_id not in names:
        raise LookupError(key_id)
    if not await remove(s, user.id, key_id, keep_one=keep_one):
        raise KeyInputError(LAST_FACTOR, "last factor")
    audit.add(
        s, "webauthn_removed", "ok", actor=user.id, subject=user.id, address=address, key=key_id,
        key_name=names[key_id],
    )  # fmt: skip
