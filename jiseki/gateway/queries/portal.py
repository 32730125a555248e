"""The staff portal's reads: my office PCs with their state, and what the viewer page needs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, diagnosis
from ..db.models import Host, Session, Terminal
from ..hosts import assigned_host, hosts_of
from ..policies_db import effective_for
from ..policy import Effective

NOTICE_HOURS = 24  # how long an administrator's reason for ending a session stays on My PCs
NOTICES_SHOWN = 5


@dataclass(frozen=True)
class MyPcs:
    hosts: list[Host]  # the PCs assigned to the user, by name
    in_use: set[str]  # those with a live session
    notices: list[Session]  # the user's sessions an administrator ended lately, with the reason
    refusals: dict[str, access.Refusal | None]  # why connecting to each is not allowed now (None: allowed)
    reasons: dict[str, list[diagnosis.Finding]]  # other reasons it fails now that the state badge does not tell
    wakeable: set[str] = field(default_factory=set)  # those the policy lets the user power on (`wake`)


async def my_pcs(s: AsyncSession, user_id: str, now: dt.datetime) -> MyPcs:
    """From the database, so any gateway node answers alike."""
    hosts = await hosts_of(s, user_id)
    ids = [h.id for h in hosts]
    live = set(
        (await s.execute(select(Session.host_id).where(Session.host_id.in_(ids), Session.state == "live"))).scalars()
    )
    notices = list(
        (
            await s.execute(
                select(Session)
                .where(
                    Session.user_id == user_id,
                    Session.end_message.is_not(None),
                    Session.ended_at > now - dt.timedelta(hours=NOTICE_HOURS),
                )
                .order_by(Session.ended_at.desc())
                .limit(NOTICES_SHOWN)
            )
        ).scalars()
    )
    # The helpdesk's diagnosis of each PC (diagnosis.pc_findings), so that both say the same.
    found = {h.id: await diagnosis.pc_findings(s, user_id, h, now) for h in hosts}
    refusals = {hid: next((f.refusal for f in fs if f.refusal is not None), None) for hid, fs in found.items()}
    reasons = {hid: [f for f in fs if f.code in diagnosis.PORTAL_REASONS] for hid, fs in found.items()}
    wakeable = {h.id for h in hosts if (await access.refusal(s, user_id, h.id, now))[1].wake}
    return MyPcs(hosts, live, notices, refusals, {hid: fs for hid, fs in reasons.items() if fs}, wakeable)


@dataclass(frozen=True)
class ViewerSetup:
    host: Host
    policy: Effective  # what the page offers (clipboard, watermark)
    terminal: Terminal | None  # its stored zoom and the layout it was told about


async def viewer_setup(s: AsyncSession, user_id: str, host_id: str, terminal_id: str) -> ViewerSetup | None:
    """What the viewer page of this PC needs, or None if the user may not use it."""
    host = await assigned_host(s, user_id, host_id)
    if host is None:
        return None
    return ViewerSetup(host, await effective_for(s, user_id, host.id), await s.get(Terminal, terminal_id))
