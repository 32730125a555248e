"""May this staff member start a session to this office PC now, and if not, why and until when.

One answer for the session request, for My PCs and for the viewer's end screen, so that the portal
never offers a Connect that the session request would refuse. (Assignment and the PC being online
or in use are told apart elsewhere: they are states of the PC, not rules.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .db.models import Session
from .end_reasons import EndReason
from .holidays import CLOSED_DAY, HOLIDAY, DayOff
from .policies_db import effective_for
from .policy import Effective, next_allowed, time_denial

# What each refusal tells the staff member (catalogue ids): "days" and "hours" name the policy, a
# holiday or closed day names the day ({date}, {name}); UNTIL (UNTIL_DAY after a day off, with the
# weekday, around the refusal's text) follows when the time connecting is allowed again is known.
MESSAGES = {
    EndReason.ADMIN: N_("An administrator ended the connection. The reason is shown on My office PCs."),
    "days": N_("Connections are not allowed on this day (policy: {policy})."),
    "hours": N_("Connections are not allowed at this time (policy: {policy})."),
    HOLIDAY: N_("Today ({date}) is a national holiday ({name}), so you cannot connect."),
    CLOSED_DAY: N_("Today ({date}) is a closed day ({name}), so you cannot connect."),
}
UNTIL = N_("You can connect again from {time}.")
UNTIL_DAY = N_("{refusal} The next time you can connect is {time}.")


@dataclass(frozen=True)
class Refusal:
    reason: str  # "admin" (an administrator's hold), "days", "hours", "holiday" or "closed_day" (the policy)
    policy: str | None  # the policy that decided, for the policy's reasons
    until: dt.datetime | None  # when connecting is allowed again, if known
    day: DayOff | None = None  # the national holiday or closed day, for holiday / closed_day

    @property
    def msgid(self) -> str:
        return MESSAGES[self.reason]


async def reconnect_hold(s: AsyncSession, user_id: str, host_id: str, now: dt.datetime) -> dt.datetime | None:
    """Until when an administrator's end of a session keeps this user from reconnecting to this PC."""
    return (
        await s.execute(
            select(func.max(Session.reconnect_after)).where(
                Session.user_id == user_id, Session.host_id == host_id, Session.reconnect_after > now
            )
        )
    ).scalar_one_or_none()


def policy_refusal(policy: Effective, now: dt.datetime) -> Refusal | None:
    denial = time_denial(policy, now)
    if denial is None:
        return None
    return Refusal(denial.reason, denial.policy, next_allowed(policy, now), denial.day)


async def refusal(s: AsyncSession, user_id: str, host_id: str, now: dt.datetime) -> tuple[Refusal | None, Effective]:
    """The reason a session request would be refused now (None: allowed), with the effective policy."""
    policy = await effective_for(s, user_id, host_id, now)
    hold = await reconnect_hold(s, user_id, host_id, now)
    if hold is not None:
        later = policy_refusal(policy, hold)  # the hold ends outside the allowed hours: say the later time
        return Refusal(EndReason.ADMIN, None, later.until if later else hold), policy
    return policy_refusal(policy, now), policy
