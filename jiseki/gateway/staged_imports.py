"""Uploaded CSV files between the preview and the confirmation (see models.StagedImport)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from .db.models import StagedImport, utcnow

LIFETIME = dt.timedelta(hours=1)


async def stage(s: AsyncSession, kind: str, actor: str, filename: str, content: str) -> str:
    now = utcnow()
    await s.execute(delete(StagedImport).where(StagedImport.expires_at < now))
    staged_id = secrets.token_hex(16)
    s.add(
        StagedImport(
            id=staged_id,
            kind=kind,
            actor=actor,
            filename=filename[:255],
            content=content,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return staged_id


async def take(s: AsyncSession, staged_id: str, kind: str, actor: str) -> StagedImport | None:
    """The staged file if it is this actor's, of this kind and fresh; it is removed (used once)."""
    row = await s.get(StagedImport, staged_id) if len(staged_id) == 32 else None
    if row is None or row.kind != kind or row.actor != actor:
        return None
    await s.delete(row)
    if row.expires_at < utcnow():
        return None
    return row
