"""An account's last refused logins with their real reason, for the console's account page.

The login page gives every refusal the same answer (a distinct one would tell which IDs exist); the
helpdesk needs to know whether it was the password, the code, a lock or a disabled account.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import AuditEvent

FAILED_LOGINS_SHOWN = 10


@dataclass(frozen=True)
class FailedLogin:
    at: dt.datetime
    reason: str
    terminal: str | None
    address: str | None
    locked_the_account: bool  # this failure reached the threshold


async def failed_logins(s: AsyncSession, login_id: str) -> list[FailedLogin]:
    """Newest first, from the `login` events whose actor is the account."""
    rows = (
        await s.execute(
            select(AuditEvent)
            .where(AuditEvent.kind == "login", AuditEvent.actor == login_id, AuditEvent.outcome == "denied")
            .order_by(AuditEvent.id.desc())
            .limit(FAILED_LOGINS_SHOWN)
        )
    ).scalars()
    failed = []
    for e in rows:
        try:
            details = json.loads(e.details or "{}")
        except ValueError:
            details = {}
        reason = str(details.get("reason", "")) if isinstance(details, dict) else ""
        locked_now = isinstance(details, dict) and details.get("result") == "locked" and reason != "locked"
        failed.append(FailedLogin(e.ts, reason, e.subject, e.address, locked_now))
    return failed
