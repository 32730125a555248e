"""A remote session lives only while the authority behind it does.

A session was opened by a staff member's web session on one terminal. It ends when no valid web
session of that user on that terminal remains (logout, expiry, a password change or reset, any
administrator's change that signs the user out) or when the account is disabled — whichever process
on whichever node made the change: every node looks at the database for the sessions it relays,
every few seconds. The relay's input keeps the web session from expiring as idle, so a staff member
working in the remote desktop is not signed out for not touching the portal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update

from jiseki.config import AuthConfig

from .auth.websessions import STAGE_FULL, expired
from .broker import Broker, PendingSession
from .db.models import User, WebSession, utcnow
from .end_reasons import EndReason

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0  # seconds between two looks at the database (an ended authority ends sessions within this)
TOUCH_INTERVAL = dt.timedelta(seconds=60)  # the web session's last_seen is written at most this often


@dataclass(frozen=True)
class Authority:
    """What one check read of one account and its web sessions."""

    user: User | None
    web_sessions: tuple[WebSession, ...]


def end_reason(authority: Authority, terminal_id: str, config: AuthConfig, now: dt.datetime) -> str | None:
    """Why a session of this user on this terminal must end now, or None while it may go on."""
    user = authority.user
    if user is None or user.disabled:
        return EndReason.ACCOUNT_DISABLED
    mine = [w for w in authority.web_sessions if w.terminal_id == terminal_id and w.stage == STAGE_FULL]
    if any(not expired(w, config, now) for w in mine):
        return None
    if user.must_change_password or not user.totp_enabled:
        return EndReason.LOGIN_REQUIRED  # an administrator reset the password or the one-time code
    return EndReason.LOGIN_EXPIRED if mine else EndReason.LOGGED_OUT


def _watched(broker: Broker) -> list[PendingSession]:
    """Sessions whose viewer has come (live or suspended): an unused request ends with its ticket."""
    return [p for p in (*broker.live.values(), *broker.pending.values()) if p.viewer_claimed]


async def check(broker: Broker, config: AuthConfig, touched: dict[str, float]) -> None:
    """One look: touch the web sessions that saw input, then end every session whose authority ended."""
    sessions = _watched(broker)
    if not sessions:
        touched.clear()
        return
    now = utcnow()
    mono = time.monotonic()
    active = [
        p.web_session_id
        for p in sessions
        if p.web_session_id
        and p.rules is not None
        and p.rules.last_input > touched.get(p.web_session_id, -1e9)
        and mono - touched.get(p.web_session_id, -1e9) >= TOUCH_INTERVAL.total_seconds()
    ]
    user_ids = sorted({p.user_id for p in sessions})
    async with broker.db.begin() as s:
        if active:
            # Only while still valid: input must not revive a web session that has already expired.
            await s.execute(
                update(WebSession)
                .where(
                    WebSession.id.in_(active),
                    WebSession.expires_at > now,
                    WebSession.last_seen_at > now - dt.timedelta(seconds=config.session_idle_seconds),
                )
                .values(last_seen_at=now)
            )
        users = {u.id: u for u in (await s.execute(select(User).where(User.id.in_(user_ids)))).scalars()}
        rows = list((await s.execute(select(WebSession).where(WebSession.user_id.in_(user_ids)))).scalars())
    for sid in active:
        touched[sid] = mono
    for gone in set(touched) - {p.web_session_id for p in sessions}:
        del touched[gone]
    grouped = by_user(rows)
    for pending in sessions:
        authority = Authority(users.get(pending.user_id), tuple(grouped.get(pending.user_id, ())))
        reason = end_reason(authority, pending.terminal_id, config, now)
        if reason is not None and pending.forced_reason is None:
            log.info("session %s of %s ends: %s", pending.id, pending.user_id, reason)
            await broker.close_session(pending, reason)


async def run(broker: Broker, config: AuthConfig, interval: float | None = None) -> None:
    touched: dict[str, float] = {}
    while True:
        await asyncio.sleep(CHECK_INTERVAL if interval is None else interval)
        try:
            await check(broker, config, touched)
        except Exception:  # a database restart: try again at the next look
            log.exception("checking the sessions' authority failed")


def by_user(rows: Iterable[WebSession]) -> dict[str, list[WebSession]]:
    out: dict[str, list[WebSession]] = {}
    for row in rows:
        out.setdefault(row.user_id, []).append(row)
    return out
