"""Registering office PCs: the demo's direct path of issuing an agent certificate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker

from .db.models import Host
from .pki import CertificateAuthority, write_private

AGENT_CERT_LIFETIME = dt.timedelta(days=825)


async def register_host(
    ca: CertificateAuthority,
    db: async_sessionmaker,
    host_id: str,
    name: str,
    out_dir: Path,  # type: ignore[type-arg]
) -> Host:
    """Issue an agent certificate for `host_id`, record the host, write the agent's files to `out_dir`."""
    issued = ca.issue_client_cert("agent", host_id, AGENT_CERT_LIFETIME)
    async with db.begin() as s:
        host = await s.get(Host, host_id)
        if host is None:
            host = Host(id=host_id, name=name, cert_fingerprint=issued.fingerprint, cert_serial=issued.serial)
            s.add(host)
        else:
            host.name = name
            host.cert_fingerprint = issued.fingerprint
            host.cert_serial = issued.serial
    write_agent_files(out_dir, issued.key_pem, issued.cert_pem, ca.root_cert_path.read_bytes())
    return host


def write_agent_files(out_dir: Path, key: bytes, cert: bytes, ca_cert: bytes) -> None:
    write_private(out_dir / "agent.key", key)
    write_private(out_dir / "agent.crt", cert)
    (out_dir / "ca.crt").write_bytes(ca_cert)
