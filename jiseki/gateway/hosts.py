"""Office PCs: registration by enrollment (CSR) or directly (demo), assignment and revocation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .certs import record_issued, revoke_owner
from .db.models import Assignment, Host, User
from .pki import CertificateAuthority, cert_pem, fingerprint, serial_hex, write_private

DEFAULT_AGENT_LIFETIME = dt.timedelta(days=825)


def valid_host_id(host_id: str) -> bool:
    return 0 < len(host_id) <= 64 and all(c.isalnum() or c in "._-" for c in host_id)


async def _set_certificate(s: AsyncSession, host_id: str, name: str, cert: x509.Certificate) -> Host:
    host = await s.get(Host, host_id)
    fp = fingerprint(cert)
    if host is None:
        host = Host(id=host_id, name=name, cert_fingerprint=fp, cert_serial=serial_hex(cert))
        s.add(host)
    else:
        await revoke_owner(s, "agent", host_id, "superseded")
        host.name, host.cert_fingerprint, host.cert_serial = name, fp, serial_hex(cert)
    await s.flush()
    await record_issued(s, cert, "agent", host_id)
    return host


async def enroll_host(
    s: AsyncSession, ca: CertificateAuthority, host_id: str, name: str, csr: bytes, lifetime: dt.timedelta
) -> bytes:
    """Certificate chain (PEM) for an agent's CSR; the key stays on the office PC."""
    cert = ca.sign_csr("agent", host_id, csr, lifetime)
    await _set_certificate(s, host_id, name, cert)
    return cert_pem(cert) + cert_pem(ca.issuing_cert)


async def register_host(
    s: AsyncSession,
    ca: CertificateAuthority,
    host_id: str,
    name: str,
    out_dir: Path,
    lifetime: dt.timedelta = DEFAULT_AGENT_LIFETIME,
) -> Host:
    """Make the agent's key here and write its files to `out_dir` (demo and tests)."""
    issued = ca.issue_client_cert("agent", host_id, lifetime)
    host = await _set_certificate(s, host_id, name, issued.cert)
    write_agent_files(out_dir, issued.key_pem, issued.cert_pem, ca.root_cert_path.read_bytes())
    return host


def write_agent_files(out_dir: Path, key: bytes, cert: bytes, ca_cert: bytes) -> None:
    write_private(out_dir / "agent.key", key)
    write_private(out_dir / "agent.crt", cert)
    (out_dir / "ca.crt").write_bytes(ca_cert)


async def revoke_host(s: AsyncSession, host_id: str, reason: str) -> bool:
    if await s.get(Host, host_id) is None:
        return False
    await revoke_owner(s, "agent", host_id, reason)
    return True


async def assign(s: AsyncSession, user_id: str, host_id: str) -> bool:
    """Give `user_id` access to `host_id`; False if it already had it."""
    if await s.get(User, user_id) is None:
        raise LookupError(f"no staff account {user_id!r}")
    if await s.get(Host, host_id) is None:
        raise LookupError(f"no office PC {host_id!r}")
    if await s.get(Assignment, (user_id, host_id)) is not None:
        return False
    s.add(Assignment(user_id=user_id, host_id=host_id))
    return True


async def unassign(s: AsyncSession, user_id: str, host_id: str) -> None:
    await s.execute(delete(Assignment).where(Assignment.user_id == user_id, Assignment.host_id == host_id))


async def is_assigned(s: AsyncSession, user_id: str, host_id: str) -> bool:
    return await s.get(Assignment, (user_id, host_id)) is not None


async def assigned_host(s: AsyncSession, user_id: str, host_id: str) -> Host | None:
    """The PC if this user may use it; None otherwise (unknown and not assigned look the same)."""
    if not valid_host_id(host_id) or not await is_assigned(s, user_id, host_id):
        return None
    return await s.get(Host, host_id)


async def hosts_of(s: AsyncSession, user_id: str) -> list[Host]:
    query = select(Host).join(Assignment, Assignment.host_id == Host.id).where(Assignment.user_id == user_id)
    return list((await s.execute(query.order_by(Host.name))).scalars())
