"""Registered terminals: issue (PKCS#12 or a CSR) and revoke their certificates.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit, terminals
from ..db.models import Terminal
from ..pki import CertificateAuthority, PKIError
from .errors import MAX_NAME, MAX_REASON, AdminError


def _check_terminal(terminal_id: str, name: str) -> None:
    if not terminals.valid_terminal_id(terminal_id):
        raise AdminError(N_("Terminal IDs use letters, digits, “.”, “_” and “-” (at most 64)."))
    if not name or len(name) > MAX_NAME:
        raise AdminError(N_("The name must be 1-255 characters."))


async def _terminal_before(s: AsyncSession, terminal_id: str, reissue: bool) -> dict[str, Any] | None:
    row = await s.get(Terminal, terminal_id)
    if row is not None and not reissue:
        raise AdminError(N_("The terminal ID “{value}” already exists."), value=terminal_id)
    if row is None and reissue:
        raise AdminError(N_("There is no terminal “{value}”."), value=terminal_id[:80])
    return None if row is None else {"name": row.name, "state": row.state, "certificate": row.cert_fingerprint}


async def issue_terminal_pkcs12(
    s: AsyncSession,
    ca: CertificateAuthority,
    terminal_id: str,
    name: str,
    lifetime: dt.timedelta,
    actor: str | None,
    *,
    reissue: bool = False,
    address: str | None = None,
) -> terminals.TerminalBundle:
    """A new terminal (or a new certificate for a known one) as a PKCS#12 bundle with a one-time password.

    The bundle and its password go to the caller only: neither is stored nor recorded.
    """
    _check_terminal(terminal_id, name)
    before = await _terminal_before(s, terminal_id, reissue)
    bundle = await terminals.issue_pkcs12(s, ca, terminal_id, name, lifetime)
    row = await s.get(Terminal, terminal_id)
    assert row is not None
    after = {"name": name, "state": row.state, "certificate": row.cert_fingerprint}
    kind = "terminal_reissued" if reissue else "terminal_registered"
    s.add(
        audit.change(
            kind, actor=actor, subject=terminal_id, before=before, after=after, address=address, method="pkcs12"
        )
    )
    return bundle


async def issue_terminal_csr(
    s: AsyncSession,
    ca: CertificateAuthority,
    terminal_id: str,
    name: str,
    csr: bytes,
    lifetime: dt.timedelta,
    actor: str | None,
    *,
    reissue: bool = False,
    address: str | None = None,
) -> bytes:
    """The certificate chain (PEM) for a CSR made on the terminal."""
    _check_terminal(terminal_id, name)
    before = await _terminal_before(s, terminal_id, reissue)
    try:
        chain = await terminals.sign_terminal_csr(s, ca, terminal_id, name, csr, lifetime)
    except PKIError as exc:
        raise AdminError(N_("The certificate request was refused: {reason}"), reason=str(exc)) from None
    row = await s.get(Terminal, terminal_id)
    assert row is not None
    after = {"name": name, "state": row.state, "certificate": row.cert_fingerprint}
    kind = "terminal_reissued" if reissue else "terminal_registered"
    s.add(
        audit.change(kind, actor=actor, subject=terminal_id, before=before, after=after, address=address, method="csr")
    )
    return chain


async def revoke_terminal(
    s: AsyncSession, terminal_id: str, reason: str, actor: str | None, *, address: str | None = None
) -> None:
    row = await s.get(Terminal, terminal_id)
    if row is None:
        raise AdminError(N_("There is no terminal “{value}”."), value=terminal_id[:80])
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise AdminError(N_("Please give a reason."))
    before = {"state": row.state}
    await terminals.revoke_terminal(s, terminal_id, reason)
    s.add(
        audit.change(
            "terminal_revoked",
            actor=actor,
            subject=terminal_id,
            before=before,
            after={"state": "revoked"},
            address=address,
            reason=reason,
        )
    )
