"""The database side of client certificates: what was issued, what is revoked, and a checker
that every request and WebSocket of a terminal or agent goes through."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db.models import Certificate, utcnow
from .db.results import rowcount
from .pki import fingerprint, fingerprint_der, identity_of, serial_hex

log = logging.getLogger(__name__)

CACHE_SECONDS = 2.0
WATCH_INTERVAL = 2.0


class CertStatus(Enum):
    OK = "ok"
    NONE = "no_certificate"
    UNKNOWN = "unknown_certificate"
    WRONG_KIND = "wrong_kind"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


@dataclass(frozen=True)
class CertCheck:
    status: CertStatus
    fingerprint: str | None = None
    owner_id: str | None = None


async def record_issued(s: AsyncSession, cert: x509.Certificate, kind: str, owner_id: str) -> Certificate:
    row = Certificate(
        fingerprint=fingerprint(cert),
        serial=serial_hex(cert),
        kind=kind,
        owner_id=owner_id,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    s.add(row)
    return row


async def revoke_owner(s: AsyncSession, kind: str, owner_id: str, reason: str) -> int:
    """Revoke every unrevoked certificate of a terminal or agent; returns how many."""
    result = await s.execute(
        update(Certificate)
        .where(Certificate.kind == kind, Certificate.owner_id == owner_id, Certificate.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason[:255])
    )
    return rowcount(result)


class CertificateChecker:
    """Status of a presented certificate, from the database, cached for a couple of seconds."""

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, Certificate | None]] = {}

    def forget(self, fp: str) -> None:
        self._cache.pop(fp, None)

    async def _row(self, fp: str) -> Certificate | None:
        hit = self._cache.get(fp)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        async with self.db() as s:
            row = await s.get(Certificate, fp)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[fp] = (time.monotonic(), row)
        return row

    async def check(self, der: bytes | None, kind: str, now: dt.datetime | None = None) -> CertCheck:
        if not der:
            return CertCheck(CertStatus.NONE)
        fp = fingerprint_der(der)
        parsed = _parse(der)
        if parsed is None or parsed[0] != (kind, parsed[0][1]):
            return CertCheck(CertStatus.WRONG_KIND, fp)
        (_kind, owner), not_before, not_after = parsed
        # The certificate's own dates first: the TLS layer lets expired certificates through so that
        # the refusal can be shown and recorded here (see pki.server_ssl_context).
        now = now or utcnow()
        if now > not_after:
            return CertCheck(CertStatus.EXPIRED, fp, owner)
        if now < not_before:
            return CertCheck(CertStatus.NOT_YET_VALID, fp, owner)
        row = await self._row(fp)
        if row is None or row.kind != kind or row.owner_id != owner:
            return CertCheck(CertStatus.UNKNOWN, fp, owner)
        if row.revoked_at is not None:
            return CertCheck(CertStatus.REVOKED, fp, owner)
        return CertCheck(CertStatus.OK, fp, owner)


@functools.lru_cache(maxsize=4096)
def _parse(der: bytes) -> tuple[tuple[str, str], dt.datetime, dt.datetime] | None:
    """(identity, not before, not after) of a client certificate, or None without a jiseki identity."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    identity = identity_of(cert)
    if identity is None:
        return None
    return identity, cert.not_valid_before_utc, cert.not_valid_after_utc


RevokedCallback = Callable[[str], Awaitable[None]]


class RevocationWatcher:
    """Notices revocations written by any process (console, CLI, another node) within seconds and
    hands each revoked fingerprint to the callbacks that close live connections."""

    def __init__(self, db: async_sessionmaker[AsyncSession], checker: CertificateChecker) -> None:
        self.db = db
        self.checker = checker
        self.callbacks: list[RevokedCallback] = []
        self._since: dt.datetime | None = None
        self._handled: set[str] = set()
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def check_once(self) -> list[str]:
        async with self.db() as s:
            query = select(Certificate.fingerprint, Certificate.revoked_at).where(Certificate.revoked_at.is_not(None))
            if self._since is not None:
                query = query.where(Certificate.revoked_at >= self._since)
            rows = (await s.execute(query)).all()
        fresh = []
        for fp, revoked_at in rows:
            if revoked_at is not None and (self._since is None or revoked_at > self._since):  # not None: see query
                self._since = revoked_at
            if fp in self._handled:
                continue
            self._handled.add(fp)
            self.checker.forget(fp)
            fresh.append(fp)
        for fp in fresh:
            for callback in self.callbacks:
                try:
                    await callback(fp)
                except Exception:  # a failing callback must not stop revocation handling
                    log.exception("revocation callback failed for %s", fp)
        return fresh

    async def run(self) -> None:
        await self.check_once()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), WATCH_INTERVAL)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.check_once()
            except Exception:
                log.exception("revocation check failed")
