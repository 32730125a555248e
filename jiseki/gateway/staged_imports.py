"""Uploaded CSV files between the preview and the confirmation (see models.StagedImport)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Staged:
    filename: str
    content: str


async def take(s: AsyncSession, staged_id: str, kind: str, actor: str) -> Staged | None:
    """The staged file if it is this actor's, of this kind and fresh; removed by the same statement
    (used once): of two confirmations racing, exactly one gets it."""
    if len(staged_id) != 32:
        return None
    query = (
        delete(StagedImport)
        .where(
            StagedImport.id == staged_id,
            StagedImport.kind == kind,
            StagedImport.actor == actor,
            StagedImport.expires_at > utcnow(),
        )
        .returning(StagedImport.filename, StagedImport.content)
    )
    row = (await s.execute(query)).first()
    return Staged(row.filename, row.content) if row is not None else None
