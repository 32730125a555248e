"""One-click links sent by mail: "this was not me: end my connections and lock my account".

The token (32 random bytes) is only in the mail; the database keeps its SHA-256. Using a link is
ONE conditional UPDATE (`used_at IS NULL AND expires_at > now`): of two clicks racing, one wins,
and an expired or used link changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..admin import accounts as admin_accounts
from ..admin.errors import AdminError
from ..auth import websessions
from ..db.models import ActionLink, User, utcnow

END_AND_LOCK = "end_and_lock"
LOCK_YEARS = 100  # the last administrator cannot be disabled: their account is locked instead
TOKEN_BYTES = 32
MAX_TOKEN = 64  # base64url of 32 bytes is 43 characters


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def form_token(token: str) -> str:
    """What the confirmation page's form carries back: derived from the link, never stored."""
    return hashlib.sha256(b"jiseki-action-form\x00" + token.encode("ascii", "replace")).hexdigest()


def plausible(token: str) -> bool:
    return 20 <= len(token) <= MAX_TOKEN and all(c.isalnum() or c in "-_" for c in token)


async def create(
    s: AsyncSession, user_id: str, purpose: str, lifetime: dt.timedelta, session_id: str | None = None
) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    s.add(
        ActionLink(
            id=digest(token),
            purpose=purpose,
            user_id=user_id,
            session_id=session_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


async def find(s: AsyncSession, token: str) -> ActionLink | None:
    return await s.get(ActionLink, digest(token)) if plausible(token) else None


async def use(s: AsyncSession, token: str, now: dt.datetime) -> str | None:
    """Claim the link in one statement; its user's ID, or None (unknown, used or expired)."""
    if not plausible(token):
        return None
    claimed = await s.execute(
        update(ActionLink)
        .where(ActionLink.id == digest(token), ActionLink.used_at.is_(None), ActionLink.expires_at > now)
        .values(used_at=now)
        .returning(ActionLink.user_id)
    )
    row = claimed.first()
    return row[0] if row is not None else None


async def end_and_lock(s: AsyncSession, user_id: str, address: str | None, now: dt.datetime) -> None:
    """Disable the account (its web sessions end with it), as an administrator would; the last
    administrator, who cannot be disabled, is locked instead (and signed out everywhere)."""
    try:  # the refusal of the last administrator comes before any write
        await admin_accounts.set_disabled(s, user_id, True, user_id, address=address)
        how = "disabled"
    except AdminError:
        until = now.replace(year=now.year + LOCK_YEARS)
        await s.execute(update(User).where(User.id == user_id).values(locked_until=until))
        await websessions.end_all_for_user(s, user_id)
        how = "locked"
    audit.add(s, "action_link", "ok", actor=user_id, subject=user_id, address=address, purpose=END_AND_LOCK, effect=how)
