"""Ending a session by an administrator, with a reason and a reconnect hold.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit
from ..db.models import Session, utcnow
from .errors import MAX_REASON, AdminError

HOLD_MINUTES = (0, 10, 60, 480)  # how long the staff member cannot reconnect after an administrator's end


def check_end(message: str, hold_minutes: int) -> str:
    """The reason as stored, if it and the hold can be used; AdminError otherwise."""
    message = message.strip()
    if not message:
        raise AdminError(N_("Please give a reason. The staff member sees it."))
    if len(message) > MAX_REASON:
        raise AdminError(N_("The reason must be at most {n} characters."), n=MAX_REASON)
    if hold_minutes not in HOLD_MINUTES:
        raise AdminError(N_("Please choose when the staff member may reconnect."))
    return message


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
    message = check_end(message, hold_minutes)
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
