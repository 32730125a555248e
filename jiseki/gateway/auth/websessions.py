"""Server-side web sessions: the cookie holds a random id, the database holds its SHA-256.

A session is bound to the terminal it was created on; it expires after an idle time and after a
maximum age. Logging in, finishing one-time-code enrolment or changing the password rotates the id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.config import AuthConfig

from ..db.models import User, WebSession

COOKIE = "jiseki_session"
STAGE_FULL = "full"
STAGE_ENROLL_TOTP = "totp_enroll"
STAGE_KEY = "webauthn"  # password right, the security key or passkey next
STAGE_ENROLL_KEY = "webauthn_enroll"  # a key must be registered before the login completes
STAGE_CHANGE_PASSWORD = "password"  # noqa: S105 - a stage name, not a password
LAST_SEEN_WRITE_INTERVAL = dt.timedelta(seconds=60)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


@dataclass
class LoadedSession:
    row: WebSession
    user: User


async def create(
    s: AsyncSession,
    config: AuthConfig,
    user_id: str,
    terminal_id: str,
    stage: str,
    address: str | None,
    now: dt.datetime,
) -> str:
    """A new session; returns the cookie value (shown to nobody else, stored only hashed)."""
    cookie = secrets.token_urlsafe(32)
    s.add(
        WebSession(
            id=_digest(cookie),
            user_id=user_id,
            terminal_id=terminal_id,
            stage=stage,
            csrf_token=secrets.token_urlsafe(24),
            address=address,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(seconds=config.session_max_seconds),
        )
    )
    return cookie


def expired(row: WebSession, config: AuthConfig, now: dt.datetime) -> bool:
    """Past its maximum age, or unused for longer than the idle time."""
    return now >= row.expires_at or now >= row.last_seen_at + dt.timedelta(seconds=config.session_idle_seconds)


async def load(
    s: AsyncSession, config: AuthConfig, cookie: str | None, terminal_id: str, now: dt.datetime
) -> LoadedSession | None:
    if not cookie or len(cookie) > 128:
        return None
    row = await s.get(WebSession, _digest(cookie))
    if row is None:
        return None
    if row.terminal_id != terminal_id or expired(row, config, now):
        await s.delete(row)
        return None
    user = await s.get(User, row.user_id)
    if user is None or user.disabled:
        await s.delete(row)
        return None
    if now - row.last_seen_at >= LAST_SEEN_WRITE_INTERVAL:
        row.last_seen_at = now
    return LoadedSession(row, user)


async def rotate(s: AsyncSession, loaded: LoadedSession, config: AuthConfig, stage: str, now: dt.datetime) -> str:
    """Replace the session by a new one (new id, new CSRF token) at a new stage."""
    old = loaded.row
    await s.delete(old)
    return await create(s, config, old.user_id, old.terminal_id, stage, old.address, now)


async def end(s: AsyncSession, cookie: str | None) -> None:
    if cookie:
        await s.execute(delete(WebSession).where(WebSession.id == _digest(cookie)))


async def end_all_for_user(s: AsyncSession, user_id: str) -> None:
    await s.execute(delete(WebSession).where(WebSession.user_id == user_id))


async def end_all_for_terminal(s: AsyncSession, terminal_id: str) -> None:
    await s.execute(delete(WebSession).where(WebSession.terminal_id == terminal_id))
