"""Where the gateway raises alerts: each function is one line in the code path it watches
(login, refused device, new session), and never waits for the mail server."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.config_mail import parse_hours
from jiseki.i18n import JST

from ..auth.accounts import LoginOutcome, LoginResult
from ..db.models import UserTerminal, utcnow
from . import Alert, kinds, notify, record_terminal

if TYPE_CHECKING:
    from ..state import GatewayState

FAILURES_ALERT = 3  # failed logins in a row that raise `login_failures` (before the lockout)


def failures_alert(lockout_threshold: int) -> int:
    """The failure count that raises `login_failures`: 3, or one before the lockout if that comes first."""
    return max(1, min(FAILURES_ALERT, lockout_threshold - 1))


def _state_ready(state: GatewayState) -> bool:
    return state.config.mail.enabled


async def after_login(
    state: GatewayState, outcome: LoginOutcome, ok: bool, terminal_id: str, address: str | None
) -> None:
    """A login attempt was decided: a new terminal, repeated failures or a lockout raise alerts."""
    user = outcome.user
    if user is None:
        return
    now = utcnow()
    if ok:
        async with state.db.begin() as s:
            known = (await s.get(UserTerminal, (user.id, terminal_id))) is not None
            others = not known and await _has_terminals(s, user.id)
            first = await record_terminal(s, user.id, terminal_id, now)
        # The very first terminal a person uses is no news; a further one is.
        if first and others and _state_ready(state):
            facts = {"user": user.id, "terminal": terminal_id, "at": now, "address": address or "—"}
            notify(state, Alert(kinds.NEW_TERMINAL, facts, person=user.id, key=f"new_terminal:{user.id}:{terminal_id}"))
        return
    if not _state_ready(state):
        return
    facts = {"user": user.id, "at": now, "address": address or "—", "count": user.failed_logins}
    if outcome.result is LoginResult.LOCKED and outcome.reason != "locked" and user.locked_until is not None:
        key = f"lockout:{user.id}:{user.locked_until.isoformat()}"
        notify(state, Alert(kinds.LOCKOUT, facts, person=user.id, key=key))
    elif outcome.result is LoginResult.BAD_CREDENTIALS and user.failed_logins == failures_alert(
        state.config.auth.lockout_threshold
    ):
        key = f"login_failures:{user.id}:{now.astimezone(JST):%Y%m%d%H}"
        notify(state, Alert(kinds.LOGIN_FAILURES, facts, person=user.id, key=key))


async def _has_terminals(s: AsyncSession, user_id: str) -> bool:
    found = await s.execute(select(UserTerminal.terminal_id).where(UserTerminal.user_id == user_id).limit(1))
    return found.first() is not None


def revoked_terminal(state: GatewayState, terminal_id: str | None, address: str | None) -> None:
    """A revoked terminal certificate tried to connect: one alert per terminal and day (JST)."""
    if terminal_id is None or not _state_ready(state):
        return
    now = utcnow()
    key = f"revoked_terminal:{terminal_id}:{now.astimezone(JST):%Y%m%d}"
    facts = {"terminal": terminal_id, "at": now, "address": address or "—"}
    notify(state, Alert(kinds.REVOKED_TERMINAL, facts, key=key))


def outside_hours(hours: str, when: dt.datetime) -> bool:
    """Whether `when` falls in the span "22:00-06:00" (JST; the span may cross midnight)."""
    if not hours:
        return False
    start, end = parse_hours(hours)
    local = when.astimezone(JST)
    minute = local.hour * 60 + local.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def session_started(state: GatewayState, user_id: str, host_id: str, session_id: str) -> None:
    mail = state.config.mail
    now = utcnow()
    if not mail.enabled or not outside_hours(mail.unusual_hours, now):
        return
    facts = {"user": user_id, "at": now, "hours": mail.unusual_hours}
    notify(
        state,
        Alert(
            kinds.UNUSUAL_HOURS,
            facts,
            person=user_id,
            host_id=None,
            key=f"unusual_hours:{session_id}",
            session_id=session_id,
        ),
    )
