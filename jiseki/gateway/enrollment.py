"""One-time agent enrollment tokens: issued and consumed in the database (the format is
`jiseki.trust.tokens`, which the agent reads too)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

# The token format is shared with the agent (jiseki.trust.tokens); named here too for the gateway.
from jiseki.trust.tokens import EnrollmentError as EnrollmentError
from jiseki.trust.tokens import ParsedToken as ParsedToken
from jiseki.trust.tokens import make_token as make_token
from jiseki.trust.tokens import parse_token as parse_token
from jiseki.trust.tokens import token_id

from .db.models import EnrollmentToken
from .db.results import rowcount


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
    if rowcount(won) == 1 and row is not None:
        return row
    if row is None:
        raise EnrollmentError("invalid_token", "the enrollment token is not known to this gateway")
    if row.used_at is not None:
        raise EnrollmentError("token_used", "the enrollment token was already used; ask for a new one")
    raise EnrollmentError("token_expired", "the enrollment token has expired; ask for a new one")
