"""Registered terminals: issue (PKCS#12 or a CSR), register many from a CSV, and revoke their
certificates.

Every change writes one audit event (`audit.change`: actor, subject, the changed fields before and
after; never secrets)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit, terminals
from ..auth.users_csv import RowError
from ..db.models import Terminal
from ..pki import CertificateAuthority, IssuedCert, PKIError
from ..terminals_csv import TerminalRow, new_terminal_id
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
    try:
        bundle = await terminals.issue_pkcs12(s, ca, terminal_id, name, lifetime, new=not reissue)
    except IntegrityError:  # the same ID registered at this moment by another request
        raise AdminError(N_("The terminal ID “{value}” already exists."), value=terminal_id) from None
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
        chain = await terminals.sign_terminal_csr(s, ca, terminal_id, name, csr, lifetime, new=not reissue)
    except IntegrityError:
        raise AdminError(N_("The terminal ID “{value}” already exists."), value=terminal_id) from None
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


def revocation_reason(reason: str) -> str:
    """The reason as stored (trimmed, at most MAX_REASON); AdminError when empty."""
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise AdminError(N_("Please give a reason."))
    return reason


async def revoke_terminal(
    s: AsyncSession, terminal_id: str, reason: str, actor: str | None, *, address: str | None = None
) -> None:
    row = await s.get(Terminal, terminal_id)
    if row is None:
        raise AdminError(N_("There is no terminal “{value}”."), value=terminal_id[:80])
    reason = revocation_reason(reason)
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


async def check_new_terminals(
    s: AsyncSession, rows: list[TerminalRow], errors: list[RowError]
) -> tuple[list[TerminalRow], list[RowError]]:
    """The rows of a terminals CSV that can be registered; a row naming a terminal ID that is already
    registered becomes an error (a CSV registers new terminals only: reissuing is one at a time)."""
    wanted = [r.terminal_id for r in rows if r.terminal_id]
    taken = set((await s.execute(select(Terminal.id).where(Terminal.id.in_(wanted)))).scalars()) if wanted else set()
    errors = list(errors)
    valid = []
    for row in rows:
        if row.terminal_id in taken:
            errors.append(
                RowError(
                    row.line, N_("The terminal ID “{value}” already exists."), {"value": row.terminal_id}, row.cells
                )
            )
        else:
            valid.append(row)
    return valid, sorted(errors, key=lambda e: e.line)


Made = list[tuple[TerminalRow, IssuedCert, terminals.TerminalBundle]]


def make_terminal_bundles(ca: CertificateAuthority, rows: list[TerminalRow], lifetime: dt.timedelta) -> Made:
    """A key, a certificate and a PKCS#12 bundle for each row (a new ID where it gives none), by the
    single terminal's code; CPU only, nothing stored (a worker thread runs it, outside any transaction)."""
    made: Made = []
    for row in rows:
        terminal_id = row.terminal_id or new_terminal_id()
        _check_terminal(terminal_id, row.name)
        issued, bundle = terminals.make_pkcs12(ca, terminal_id, row.name, lifetime)
        made.append((row, issued, bundle))
    return made


async def register_terminals_pkcs12(
    s: AsyncSession,
    made: Made,
    actor: str | None,
    *,
    filename: str,
    address: str | None = None,
) -> None:
    """Store terminals registered in bulk, each with the certificate made for its bundle
    (`terminals.make_pkcs12`), and one audit event with their count. All or none: a terminal ID
    registered meanwhile (by anyone) refuses the whole list. The bundles and passwords are not stored."""
    ids = [bundle.terminal_id for _row, _issued, bundle in made]
    for row, issued, bundle in made:
        _check_terminal(bundle.terminal_id, row.name)
        if await s.get(Terminal, bundle.terminal_id) is not None:
            raise AdminError(N_("The terminal ID “{value}” already exists."), value=bundle.terminal_id)
        try:
            await terminals.record_pkcs12(s, issued, bundle.terminal_id, row.name, new=True)
        except IntegrityError:  # the same ID registered at this moment by another request
            raise AdminError(N_("The terminal ID “{value}” already exists."), value=bundle.terminal_id) from None
    if ids:
        s.add(
            audit.change(
                "terminals_registered",
                actor=actor,
                subject=filename[:200],
                before=None,
                after={"count": len(ids), "first": ids[0], "last": ids[-1]},
                address=address,
                method="pkcs12",
            )
        )
