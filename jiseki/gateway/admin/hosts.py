"""Office PCs: enrollment tokens, registration and revocation.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit, enrollment, hosts
from ..db.models import EnrollmentToken, Host, utcnow
from ..pki import CertificateAuthority
from .errors import MAX_NAME, MAX_REASON, TOKEN_HOURS, AdminError


async def create_enrollment_token(
    s: AsyncSession,
    ca: CertificateAuthority,
    host_id: str,
    name: str,
    hours: float,
    actor: str | None,
    *,
    address: str | None = None,
) -> str:
    """A one-time token for one office PC's agent (shown once; only its hash is stored)."""
    if not hosts.valid_host_id(host_id):
        raise AdminError(N_("PC IDs use letters, digits, “.”, “_” and “-” (at most 64)."))
    if not name or len(name) > MAX_NAME:
        raise AdminError(N_("The name must be 1-255 characters."))
    if not TOKEN_HOURS[0] <= hours <= TOKEN_HOURS[1]:
        raise AdminError(
            N_("The validity must be from {low} to {high} hours."), low=TOKEN_HOURS[0], high=TOKEN_HOURS[1]
        )
    now = utcnow()
    token = await enrollment.create(s, ca.root_fingerprint, host_id, name, dt.timedelta(hours=hours), actor, now)
    after = {"host_name": name, "expires_at": now + dt.timedelta(hours=hours)}
    s.add(audit.change("enrollment_token", actor=actor, subject=host_id, before=None, after=after, address=address))
    return token


async def create_enrollment_tokens(
    s: AsyncSession,
    ca: CertificateAuthority,
    pcs: Iterable[tuple[str, str]],
    hours: float,
    actor: str | None,
    *,
    address: str | None = None,
) -> list[tuple[str, str, str, dt.datetime]]:
    """One token per (PC ID, name), all in the caller's transaction (all or none); each audited as
    `create_enrollment_token` audits one. Returns (PC ID, name, token, expiry) in the given order."""
    issued = []
    for host_id, name in pcs:
        token = await create_enrollment_token(s, ca, host_id, name, hours, actor, address=address)
        issued.append((host_id, name, token, utcnow() + dt.timedelta(hours=hours)))
    return issued


async def cancel_enrollment_token(
    s: AsyncSession, token_id: str, actor: str | None, *, address: str | None = None
) -> None:
    row = await s.get(EnrollmentToken, token_id) if len(token_id) == 64 else None
    if row is None or row.used_at is not None:
        raise AdminError(N_("This token was already used or cancelled."))
    await s.execute(delete(EnrollmentToken).where(EnrollmentToken.id == token_id))
    s.add(
        audit.change(
            "enrollment_token_cancelled",
            actor=actor,
            subject=row.host_id,
            before={"expires_at": row.expires_at},
            after=None,
            address=address,
        )
    )


async def revoke_host(
    s: AsyncSession, host_id: str, reason: str, actor: str | None, *, address: str | None = None
) -> None:
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise AdminError(N_("Please give a reason."))
    if not await hosts.revoke_host(s, host_id, reason):
        raise AdminError(N_("There is no office PC “{value}”."), value=host_id[:80])
    s.add(
        audit.change(
            "host_revoked",
            actor=actor,
            subject=host_id,
            before={"certificate": "valid"},
            after={"certificate": "revoked"},
            address=address,
            reason=reason,
        )
    )


async def register_host(
    s: AsyncSession,
    ca: CertificateAuthority,
    host_id: str,
    name: str,
    out_dir: Path,
    lifetime: dt.timedelta,
    actor: str | None,
    *,
    address: str | None = None,
) -> Host:
    """Register an office PC directly: its key is made here and its agent files written to `out_dir`
    (demo, tests; an office PC normally enrolls with a token and keeps its key)."""
    if not hosts.valid_host_id(host_id):
        raise AdminError(N_("PC IDs use letters, digits, “.”, “_” and “-” (at most 64)."))
    if not name or len(name) > MAX_NAME:
        raise AdminError(N_("The name must be 1-255 characters."))
    existing = await s.get(Host, host_id)
    before = {"host_name": existing.name, "cert_serial": existing.cert_serial} if existing is not None else None
    host = await hosts.register_host(s, ca, host_id, name, out_dir, lifetime)
    after = {"host_name": host.name, "cert_serial": host.cert_serial}
    s.add(audit.change("host_registered", actor=actor, subject=host_id, before=before, after=after, address=address))
    return host
