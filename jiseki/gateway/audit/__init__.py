"""Record security-relevant events (the audit trail's first cut; the hash chain comes later).

Never pass secrets (passwords, codes, tokens, clipboard content) in `details`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .. import metrics
from ..db.models import AuditEvent
from ..textclean import without_controls

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
    metrics.audited(kind, outcome)
    # A login ID typed by an attacker may hold NUL, which PostgreSQL refuses to store.
    actor = without_controls(actor) if actor else actor
    subject = without_controls(subject) if subject else subject
    return AuditEvent(kind=kind, outcome=outcome, actor=actor, subject=subject, address=address, details=text)


def add(s: AsyncSession, kind: str, outcome: str, **fields: Any) -> None:
    """Write one event in the caller's transaction: it stands or falls with what it records."""
    s.add(event(kind, outcome, **fields))


async def record(db: async_sessionmaker[AsyncSession], kind: str, outcome: str, **fields: Any) -> None:
    """Write one event in its own transaction."""
    async with db.begin() as s:
        s.add(event(kind, outcome, **fields))


def change(
    kind: str,
    *,
    actor: str | None,
    subject: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    address: str | None = None,
    **details: Any,
) -> AuditEvent:
    """An administrator's change: only the fields that differ, as they were and as they are now.

    `before` is None for something created, `after` None for something removed. Callers pass
    plain values only (never password hashes, secrets, tokens or certificate files).
    """
    if before is not None and after is not None:
        keys = [k for k in after if before.get(k) != after.get(k)]
        before, after = {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
    return event(kind, "ok", actor=actor, subject=subject, address=address, before=before, after=after, **details)
