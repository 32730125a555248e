"""May this staff member have a session to this office PC now? The session request's decision.

In order: the PC is assigned to them (an unknown PC and one not assigned look the same), no
administrator's hold and the policy's days and hours allow it now (`access`), then the broker: the PC
is online and not in use (or the policy lets a new login take it over). The answer is `Granted` with
the new session, or `Denied` with why, the HTTP status and the message to show; the web handler only
turns it into JSON. Refusals by a rule and grants are audited here (`session_request`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.i18n import N_

from . import access, audit
from .broker import Broker, HostUnavailable, PendingSession
from .db.models import utcnow
from .end_reasons import EndReason
from .hosts import assigned_host
from .policy import Effective

UNKNOWN_HOST = "unknown_host"
NOT_REGISTERED = N_("This office PC is not registered.")
# Why the broker could not offer the session, in the words of the viewer's end screen for that reason.
UNAVAILABLE = {
    UNKNOWN_HOST: NOT_REGISTERED,
    EndReason.HOST_OFFLINE: N_("The office PC is offline."),
    EndReason.IN_USE: N_("This office PC is in use in another session."),
    EndReason.GATEWAY_SHUTDOWN: N_("The gateway is restarting."),
}
UNAVAILABLE_OTHER = N_("The connection ended.")


@dataclass(frozen=True)
class Granted:
    pending: PendingSession  # its id, viewer ticket and resume token go to the viewer


@dataclass(frozen=True)
class Denied:
    reason: str  # the answer's `error`: unknown_host, admin, days, hours, host_offline, in_use, gateway_shutdown
    status: int  # the HTTP status of the session request's answer
    msgid: str  # what to tell the staff member (catalogue id); a rule's refusal fills in its policy
    refusal: access.Refusal | None = None  # set when a rule refused (hold, days, hours)

    @property
    def until(self) -> dt.datetime | None:
        """When connecting is allowed again, if a rule refused and the time is known."""
        return self.refusal.until if self.refusal is not None else None


def _refused(refusal: access.Refusal) -> Denied:
    # A hold is a conflict with an administrator's decision (409); the policy's times forbid (403).
    status = 409 if refusal.reason == EndReason.ADMIN else 403
    return Denied(refusal.reason, status, refusal.msgid, refusal)


def unavailable(reason: str) -> Denied:
    return Denied(reason, 409, UNAVAILABLE.get(reason, UNAVAILABLE_OTHER))


async def check(
    s: AsyncSession, user_id: str, host_id: str, now: dt.datetime
) -> tuple[Denied | None, Effective | None]:
    """Would a session request be refused now by assignment or a rule (None: allowed), with the
    effective policy of an assigned PC. Asks nothing of the broker: the viewer's end screen uses it."""
    if await assigned_host(s, user_id, host_id) is None:
        return Denied(UNKNOWN_HOST, 404, NOT_REGISTERED), None
    refusal, policy = await access.refusal(s, user_id, host_id, now)
    return (_refused(refusal) if refusal is not None else None), policy


async def request_session(
    db: async_sessionmaker[AsyncSession],
    broker: Broker,
    *,
    user_id: str,
    host_id: str,
    terminal_id: str,
    terminal_fingerprint: str,
    address: str | None,
    now: dt.datetime | None = None,
) -> Granted | Denied:
    """Decide a session request and, if granted, have the broker offer the session to the PC."""
    async with db() as s:
        denied, policy = await check(s, user_id, host_id, now or utcnow())
    if denied is not None:
        why: dict[str, str | None] = {"reason": "not_assigned"}
        if denied.refusal is not None:
            why = {"reason": denied.refusal.reason, "policy": denied.refusal.policy}
        await audit.record(db, "session_request", "denied", actor=user_id, subject=host_id, address=address, **why)
        return denied
    try:
        pending = await broker.create_session(host_id, user_id, terminal_id, terminal_fingerprint, address, policy)
    except HostUnavailable as exc:
        return unavailable(exc.reason)
    await audit.record(
        db,
        "session_request",
        "ok",
        actor=user_id,
        subject=host_id,
        address=address,
        session=pending.id,
        terminal=terminal_id,
    )
    return Granted(pending)
