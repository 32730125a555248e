"""Registering telework terminals: a one-time PKCS#12 bundle, or a certificate for a CSR."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import websessions
from .certs import record_issued, revoke_owner
from .db.models import Terminal
from .pki import CertificateAuthority, IssuedCert, PKIError, cert_pem, fingerprint

_P12_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
VIEW_CHOICES = frozenset({"view_zoom", "layout_told"})  # the viewer's choices kept per terminal


@dataclass(frozen=True)
class TerminalBundle:
    terminal_id: str
    p12: bytes
    password: str  # shown once to the admin, never stored


def one_time_password() -> str:
    """Four groups of four, easy to read out and type on the terminal (80 bits)."""
    return "-".join("".join(secrets.choice(_P12_ALPHABET) for _ in range(4)) for _ in range(4))


def valid_terminal_id(terminal_id: str) -> bool:
    return 0 < len(terminal_id) <= 64 and all(c.isalnum() or c in "._-" for c in terminal_id)


async def _upsert(s: AsyncSession, terminal_id: str, name: str, fp: str, *, new: bool = False) -> Terminal:
    """`new` inserts without looking first, so that a terminal ID registered at this moment by another
    request fails on the primary key (IntegrityError at flush) instead of being silently re-issued."""
    row = None if new else await s.get(Terminal, terminal_id)
    if row is None:
        row = Terminal(id=terminal_id, name=name, cert_fingerprint=fp, state="active")
        s.add(row)
    else:
        # A new certificate for a known terminal replaces (and revokes) the old one.
        await revoke_owner(s, "terminal", terminal_id, "superseded")
        row.name, row.cert_fingerprint, row.state = name, fp, "active"
    return row


def make_pkcs12(
    ca: CertificateAuthority, terminal_id: str, name: str, lifetime: dt.timedelta
) -> tuple[IssuedCert, TerminalBundle]:
    """A key, its certificate and the PKCS#12 bundle with a one-time password: the CPU part of issuing
    (no I/O; a bulk registration runs it outside the database transaction, in a worker thread)."""
    if not valid_terminal_id(terminal_id):
        raise PKIError("terminal IDs use letters, digits, '.', '_' and '-' (at most 64)")
    issued = ca.issue_client_cert("terminal", terminal_id, lifetime)
    password = one_time_password()
    return issued, TerminalBundle(terminal_id, ca.pkcs12(issued, f"jiseki {name}", password.encode()), password)


async def record_pkcs12(s: AsyncSession, issued: IssuedCert, terminal_id: str, name: str, *, new: bool) -> None:
    """The terminal (new, or with its new certificate) and the certificate issued for it, stored."""
    await _upsert(s, terminal_id, name, issued.fingerprint, new=new)
    await s.flush()
    await record_issued(s, issued.cert, "terminal", terminal_id)


async def issue_pkcs12(
    s: AsyncSession, ca: CertificateAuthority, terminal_id: str, name: str, lifetime: dt.timedelta, *, new: bool
) -> TerminalBundle:
    issued, bundle = make_pkcs12(ca, terminal_id, name, lifetime)
    await record_pkcs12(s, issued, terminal_id, name, new=new)
    return bundle


async def sign_terminal_csr(
    s: AsyncSession,
    ca: CertificateAuthority,
    terminal_id: str,
    name: str,
    csr: bytes,
    lifetime: dt.timedelta,
    *,
    new: bool,
) -> bytes:
    """The certificate chain (PEM) for a key that never left the terminal."""
    if not valid_terminal_id(terminal_id):
        raise PKIError("terminal IDs use letters, digits, '.', '_' and '-' (at most 64)")
    cert = ca.sign_csr("terminal", terminal_id, csr, lifetime)
    await _upsert(s, terminal_id, name, fingerprint(cert), new=new)
    await s.flush()
    await record_issued(s, cert, "terminal", terminal_id)
    return cert_pem(cert) + cert_pem(ca.issuing_cert)


async def revoke_terminal(s: AsyncSession, terminal_id: str, reason: str) -> bool:
    row = await s.get(Terminal, terminal_id)
    if row is None:
        return False
    row.state = "revoked"
    await revoke_owner(s, "terminal", terminal_id, reason)
    await websessions.end_all_for_terminal(s, terminal_id)
    return True


async def mark_seen(s: AsyncSession, terminal_id: str, address: str | None, now: dt.datetime) -> None:
    """The terminal made a request now from `address` (the console shows when and where last)."""
    await s.execute(
        update(Terminal).where(Terminal.id == terminal_id).values(last_seen_at=now, last_seen_address=address)
    )


async def save_view(s: AsyncSession, terminal_id: str, choices: Mapping[str, str | None]) -> None:
    """Keep the viewer's choices on this terminal (`view_zoom`, `layout_told`); the others stay."""
    if not choices or not set(choices) <= VIEW_CHOICES:
        raise ValueError(f"not a viewer choice: {sorted(set(choices) - VIEW_CHOICES)}")
    await s.execute(update(Terminal).where(Terminal.id == terminal_id).values(**choices))
