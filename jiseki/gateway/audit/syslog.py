"""Forward sealed audit records to the prefecture's SIEM as RFC 5424 syslog messages, over UDP, TCP
or TLS (RFC 5425); stream transports use octet-counting framing (RFC 6587).

The formatting is pure; `SyslogForwarder` sends records after the last one it sent (kept in the
database, so a restart resumes: delivery is at least once)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.models import AuditState
from .chain import ChainRecord

log = logging.getLogger(__name__)

FACILITY_LOCAL0 = 16
SEVERITY = {"ok": 6, "denied": 4, "error": 3}  # informational / warning / error
SD_ID = "jiseki@32473"  # 32473: the example enterprise number of RFC 5612
STATE_KEY = "syslog_last_seq"
MAX_MSGID = 32


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _printable(text: str, limit: int) -> str:
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)
    return cleaned[:limit] or "-"


def format_rfc5424(r: ChainRecord, hostname: str, app: str = "jiseki") -> bytes:
    pri = FACILITY_LOCAL0 * 8 + SEVERITY.get(r.outcome, 5)
    stamp = r.ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params = {
        "seq": str(r.seq),
        "outcome": r.outcome,
        "actor": r.actor or "",
        "subject": r.subject or "",
        "address": r.address or "",
        "hash": r.hash,
    }
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items() if v) + "]"
    details = json.dumps(json.loads(r.details), ensure_ascii=False) if r.details else ""
    header = f"<{pri}>1 {stamp} {_printable(hostname, 255)} {_printable(app, 48)} - {_printable(r.kind, MAX_MSGID)} "
    return header.encode() + sd.encode() + ((" \ufeff" + details).encode() if details else b"")


@dataclass(frozen=True)
class Destination:
    transport: str  # udp / tcp / tls
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Destination:
        parts = urlsplit(url)
        if parts.scheme not in ("udp", "tcp", "tls") or not parts.hostname:
            raise ValueError(f"syslog URL must look like udp://host:514, tcp://host:514 or tls://host:6514: {url!r}")
        default = 6514 if parts.scheme == "tls" else 514
        return cls(parts.scheme, parts.hostname, parts.port or default)


class SyslogForwarder:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], destination: Destination, hostname: str, ca_file: str | None = None
    ) -> None:
        self.db = db
        self.dest = destination
        self.hostname = hostname
        self.ca_file = ca_file
        self._writer: asyncio.StreamWriter | None = None
        self._udp: socket.socket | None = None
        self._lock = asyncio.Lock()

    async def _send(self, payload: bytes) -> None:
        if self.dest.transport == "udp":
            if self._udp is None:
                self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._udp.sendto(payload[:65000], (self.dest.host, self.dest.port))
            return
        if self._writer is None or self._writer.is_closing():
            context = None
            if self.dest.transport == "tls":
                context = ssl.create_default_context(cafile=self.ca_file)
            _reader, self._writer = await asyncio.open_connection(self.dest.host, self.dest.port, ssl=context)
        self._writer.write(str(len(payload)).encode() + b" " + payload)
        await self._writer.drain()

    async def _last(self) -> int:
        async with self.db() as s:
            row = await s.get(AuditState, STATE_KEY)
        return int(row.value) if row is not None else 0

    async def _remember(self, seq: int) -> None:
        async with self.db.begin() as s:
            row = await s.get(AuditState, STATE_KEY)
            if row is None:
                s.add(AuditState(key=STATE_KEY, value=str(seq)))
            else:
                row.value = str(seq)

    async def forward(self) -> int:
        """Send every sealed record not sent yet; returns how many were sent."""
        from .store import _sealed

        async with self._lock:
            sent = 0
            last = await self._last()
            try:
                async for r in _sealed(self.db, last):
                    await self._send(format_rfc5424(r, self.hostname))
                    last = r.seq
                    sent += 1
            except OSError as exc:
                log.warning("syslog forwarding to %s paused: %s", self.dest.host, exc)
                self.close()
            if sent:
                await self._remember(last)
            return sent

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
