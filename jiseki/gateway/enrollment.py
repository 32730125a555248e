"""One-time agent enrollment tokens.

A token reads `jsk1.<secret>.<pin>`: the secret (stored only as SHA-256) proves the admin's
consent, the pin is the SHA-256 of the gateway's root CA so the agent trusts nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .db.models import EnrollmentToken

PREFIX = "jsk1"
MAX_TOKEN_LENGTH = 200


class EnrollmentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ParsedToken:
    secret: str
    ca_pin: str  # hex SHA-256 of the root CA certificate (DER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(ca_fingerprint_hex: str) -> tuple[str, str]:
    """(token for the admin, its id for the database)."""
    secret = _b64(secrets.token_bytes(24))
    token = f"{PREFIX}.{secret}.{_b64(bytes.fromhex(ca_fingerprint_hex))}"
    return token, token_id(secret)


def token_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> ParsedToken:
    token = token.strip()
    parts = token.split(".")
    if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3 or parts[0] != PREFIX:
        raise EnrollmentError("invalid_token", "this is not a jiseki enrollment token (it starts with 'jsk1.')")
    try:
        secret_bytes, pin = _unb64(parts[1]), _unb64(parts[2])
    except (ValueError, base64.binascii.Error):  # type: ignore[attr-defined]
        raise EnrollmentError("invalid_token", "the enrollment token is damaged (copy it again)") from None
    if len(secret_bytes) != 24 or len(pin) != 32:
        raise EnrollmentError("invalid_token", "the enrollment token is damaged (copy it again)")
    return ParsedToken(parts[1], pin.hex())


async def create(
    s: AsyncSession,
    ca_fingerprint_hex: str,
    host_id: str,
    host_name: str,
    ttl: dt.timedelta,
    created_by: str | None,
    now: dt.datetime,
) -> str:
    token, tid = make_token(ca_fingerprint_hex)
    s.add(
        EnrollmentToken(
            id=tid, host_id=host_id, host_name=host_name, created_by=created_by, created_at=now, expires_at=now + ttl
        )
    )
    return token


async def consume(s: AsyncSession, token: str, now: dt.datetime, address: str | None) -> EnrollmentToken:
    """Mark the token used; refuse unknown, used and expired tokens with distinct errors.

    The mark is one conditional statement, made before the caller issues a certificate: among
    parallel requests with one token exactly one changes the row (PostgreSQL makes the others wait
    for its commit and re-checks `used_at`; SQLite runs one writer at a time). If the transaction
    rolls back (a bad CSR), the token stays unused."""
    tid = token_id(parse_token(token).secret)
    won = await s.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == tid, EnrollmentToken.used_at.is_(None), EnrollmentToken.expires_at >= now)
        .values(used_at=now, used_by_address=address)
        .execution_options(synchronize_session=False)
    )
    row = (
        await s.execute(
            select(EnrollmentToken).where(EnrollmentToken.id == tid).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if won.rowcount == 1 and row is not None:  # type: ignore[attr-defined]
        return row
    if row is None:
        raise EnrollmentError("invalid_token", "the enrollment token is not known to this gateway")
    if row.used_at is not None:
        raise EnrollmentError("token_used", "the enrollment token was already used; ask for a new one")
    raise EnrollmentError("token_expired", "the enrollment token has expired; ask for a new one")
