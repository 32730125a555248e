"""Record security-relevant events (the audit trail's first cut; the hash chain comes later).

Never pass secrets (passwords, codes, tokens, clipboard content) in `details`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db.models import AuditEvent

log = logging.getLogger("jiseki.audit")

MAX_DETAIL = 2000


def event(
    kind: str,
    outcome: str,
    *,
    actor: str | None = None,
    subject: str | None = None,
    address: str | None = None,
    **details: Any,
) -> AuditEvent:
    text = json.dumps(details, ensure_ascii=False, default=str, sort_keys=True) if details else None
    if text and len(text) > MAX_DETAIL:
        text = text[:MAX_DETAIL]
    log.info("%s %s actor=%s subject=%s address=%s", kind, outcome, actor, subject, address)
    return AuditEvent(kind=kind, outcome=outcome, actor=actor, subject=subject, address=address, details=text)


async def record(db: async_sessionmaker[AsyncSession], kind: str, outcome: str, **fields: Any) -> None:
    """Write one event in its own transaction."""
    async with db.begin() as s:
        s.add(event(kind, outcome, **fields))
