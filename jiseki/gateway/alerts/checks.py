"""The periodic checks that raise alerts: certificates about to expire (30, 7 and 1 days before),
office PCs offline for days, the audit chain. Every node runs them; the claim in `alerts_sent`
(one INSERT per alert key) makes each alert go out once, whichever node sees it first."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from cryptography import x509
from sqlalchemy import select

from ..audit.store import verify_chain
from ..db.models import Certificate, Host, utcnow
from ..pki import serial_hex
from . import Alert, kinds, notify, send_alert

if TYPE_CHECKING:
    from ..state import GatewayState

log = logging.getLogger("jiseki.alerts")
THRESHOLDS = (30, 7, 1)  # days before a certificate's end


def threshold(not_after: dt.datetime, now: dt.datetime) -> int | None:
    """The smallest threshold (days) the certificate is within, or None (not yet, or already expired)."""
    left = not_after - now
    if left <= dt.timedelta(0):
        return None
    within = [days for days in THRESHOLDS if left <= dt.timedelta(days=days)]
    return min(within) if within else None


def _cert_alert(kind: str, serial: str, name: str, not_after: dt.datetime, now: dt.datetime) -> Alert | None:
    days = threshold(not_after, now)
    if days is None:
        return None
    facts = {"name": f"{kind} {name}", "days": days, "expires": not_after}
    return Alert(kinds.CERT_EXPIRY, facts, key=f"cert_expiry:{serial}:{days}")


async def certificate_alerts(state: GatewayState, now: dt.datetime) -> list[Alert]:
    horizon = now + dt.timedelta(days=max(THRESHOLDS))
    async with state.db() as s:
        rows = (
            await s.execute(
                select(Certificate.serial, Certificate.kind, Certificate.owner_id, Certificate.not_after).where(
                    Certificate.revoked_at.is_(None), Certificate.not_after > now, Certificate.not_after <= horizon
                )
            )
        ).all()
    found = [_cert_alert(kind, serial, owner, not_after, now) for serial, kind, owner, not_after in rows]
    authority: list[tuple[str, x509.Certificate]] = [
        ("root CA", state.ca.root_cert),
        ("issuing CA", state.ca.issuing_cert),
    ]
    for name, cert in authority:
        found.append(_cert_alert("CA", serial_hex(cert), name, cert.not_valid_after_utc, now))
    return [a for a in found if a is not None]


async def offline_alerts(state: GatewayState, now: dt.datetime) -> list[Alert]:
    days = state.config.mail.pc_offline_days
    async with state.db() as s:
        rows = (
            await s.execute(
                select(Host.id, Host.name, Host.last_seen).where(
                    Host.online.is_(False), Host.last_seen.is_not(None), Host.last_seen < now - dt.timedelta(days=days)
                )
            )
        ).all()
    # Keyed by the last contact: a PC that comes back and goes away again is alerted again.
    return [
        Alert(
            kinds.PC_OFFLINE,
            {"name": name, "days": days, "last_seen": last_seen},
            host_id=host_id,
            key=f"pc_offline:{host_id}:{last_seen.isoformat()}",
        )
        for host_id, name, last_seen in rows
        if last_seen is not None
    ]


async def chain_alerts(state: GatewayState, now: dt.datetime) -> list[Alert]:
    result = await verify_chain(state.db, state.audit_head)
    if result.ok:
        return []
    key = f"audit_chain:{result.first_bad_seq or result.first_bad_id or 0}"
    return [Alert(kinds.AUDIT_CHAIN, {"problem": result.problem[:300], "at": now}, key=key)]


def node_down(state: GatewayState, node_id: str) -> None:
    """A node's heartbeat stopped (the node registry found it): every living node may see it, one sends."""
    now = utcnow()
    key = f"node_down:{node_id}:{now:%Y%m%d%H}"
    notify(state, Alert(kinds.NODE_DOWN, {"name": node_id, "at": now}, key=key))


async def run_once(state: GatewayState, now: dt.datetime | None = None) -> int:
    """All periodic checks once; the number of mails sent."""
    now = now or utcnow()
    sent = 0
    for check in (certificate_alerts, offline_alerts, chain_alerts):
        try:
            alerts = await check(state, now)
        except Exception:
            log.exception("alert check %s failed", check.__name__)
            continue
        for alert in alerts:
            sent += await send_alert(state, alert)
    return sent


async def run_forever(state: GatewayState) -> None:
    interval = state.config.mail.check_interval_minutes * 60
    while True:
        await asyncio.sleep(interval)
        try:
            await run_once(state)
        except Exception:
            log.exception("alert checks failed")
