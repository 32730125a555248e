"""Alerts by mail: who receives each kind, the claim that sends an alert once, the sending.

Recipients: the console users who chose the kind (`AlertChoice`) and have a mail address, limited to
those whose scope (所掌範囲) holds the person or PC the alert is about; and, for alerts about a
person's own account (`kinds.PERSONAL`), the person themself, with a one-click link that ends their
connections and locks the account. Every alert is an audit event (`alert`, with its kind), so the
syslog forwarding carries it too. Sending runs beside the request (`notify`): a slow or broken mail
server never delays a login; a failure is logged and audited (`alert_mail`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..db.models import AlertChoice, AlertSent, User, UserTerminal, utcnow
from ..permissions import CONSOLE_ROLES
from ..scope import scope_of
from . import kinds, links, mailer

if TYPE_CHECKING:
    from ..state import GatewayState

log = logging.getLogger("jiseki.alerts")
_pending: set[asyncio.Task[int]] = set()


@dataclass(frozen=True)
class Alert:
    kind: str
    facts: Mapping[str, object] = field(default_factory=dict)
    person: str | None = None  # the account it is about (scope, and the mail to the person)
    host_id: str | None = None  # the office PC it is about (scope)
    key: str | None = None  # claimed in `alerts_sent` before sending: sent once across nodes and checks
    session_id: str | None = None


def _insert(s: AsyncSession):  # type: ignore[no-untyped-def]
    return postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert


async def claim(s: AsyncSession, key: str, kind: str, node_id: str | None, now: dt.datetime) -> bool:
    """One INSERT claims the alert: True for the one caller (node, check) that sends it."""
    inserted = await s.execute(
        _insert(s)(AlertSent)
        .values(key=key[:255], kind=kind, sent_at=now, node_id=node_id)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(AlertSent.key)
    )
    return inserted.first() is not None


async def record_terminal(s: AsyncSession, user_id: str, terminal_id: str, now: dt.datetime) -> bool:
    """Remember that `user_id` logged in from `terminal_id`, in one statement; True the first time."""
    inserted = await s.execute(
        _insert(s)(UserTerminal)
        .values(user_id=user_id, terminal_id=terminal_id, first_seen=now, last_seen=now)
        .on_conflict_do_nothing(index_elements=["user_id", "terminal_id"])
        .returning(UserTerminal.user_id)
    )
    if inserted.first() is not None:
        return True
    await s.execute(
        update(UserTerminal)
        .where(UserTerminal.user_id == user_id, UserTerminal.terminal_id == terminal_id)
        .values(last_seen=now)
    )
    return False


async def recipients(s: AsyncSession, alert: Alert) -> list[tuple[str, str, str | None]]:
    """(user id, address, language) of the console users who chose this kind and may see its subject."""
    rows = (
        await s.execute(
            select(User.id, User.email, User.language)
            .join(AlertChoice, AlertChoice.user_id == User.id)
            .where(
                AlertChoice.kind == alert.kind,
                User.email.is_not(None),
                User.disabled.is_(False),
                User.role.in_(sorted(CONSOLE_ROLES)),
            )
            .order_by(User.id)
        )
    ).all()
    found: list[tuple[str, str, str | None]] = []
    for user_id, email, language in rows:
        scope = await scope_of(s, user_id)
        if alert.person is not None and not await scope.has_user(s, alert.person):
            continue
        if alert.host_id is not None and not await scope.has_host(s, alert.host_id):
            continue
        found.append((user_id, email or "", language))
    return found


async def send_alert(state: GatewayState, alert: Alert) -> int:
    """Claim (if keyed), audit and mail one alert; the number of mails sent."""
    config = state.config.mail
    now = utcnow()
    link_hours = config.link_hours
    async with state.db.begin() as s:
        if alert.key is not None and not await claim(s, alert.key, alert.kind, state.nodes.node_id, now):
            return 0
        targets = await recipients(s, alert)
        mails: list[tuple[str, str, str | None, str | None]] = [(u, e, lang, None) for u, e, lang in targets]
        if alert.person is not None and alert.kind in kinds.PERSONAL:
            person = await s.get(User, alert.person)
            if person is not None and person.email and not person.disabled:
                mails = [m for m in mails if m[0] != person.id]
                token = await links.create(
                    s, person.id, links.END_AND_LOCK, dt.timedelta(hours=link_hours), alert.session_id
                )
                base = config.public_url or state.config.gateway.effective_public_url
                mails.append((person.id, person.email, person.language, f"{base}/act/{token}"))
        audit.add(s, "alert", "ok", subject=alert.person or alert.host_id, alert=alert.kind, recipients=len(mails))
    sent = 0
    for user_id, address, language, link in mails:
        subject, body = kinds.compose(alert.kind, alert.facts, language, link, link_hours)
        try:
            await mailer.send(config, address, subject, body)
            sent += 1
        except mailer.MailError as exc:
            log.warning("alert %s to %s not sent: %s", alert.kind, user_id, exc)
            await audit.record(state.db, "alert_mail", "error", subject=user_id, alert=alert.kind, error=str(exc))
    return sent


async def _guarded(state: GatewayState, alert: Alert) -> int:
    try:
        return await send_alert(state, alert)
    except Exception:  # an alert must never take down the caller's task
        log.exception("alert %s failed", alert.kind)
        return 0


def notify(state: GatewayState, alert: Alert) -> None:
    """Send `alert` beside the caller (a login, a refused device): it never waits for the mail server."""
    task = asyncio.get_running_loop().create_task(_guarded(state, alert))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def drain() -> None:
    """Wait for the alerts being sent (tests; a node's shutdown)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)
