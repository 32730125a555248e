"""The dashboard's figures: what is happening now, and sessions started per day."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Base, Host, Session, Terminal, User


def _count(*where: ColumnElement[bool], model: type[Base] = Session) -> ScalarSelect[int]:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


async def figures_now(s: AsyncSession, now: dt.datetime, midnight: dt.datetime) -> dict[str, int]:
    """PCs online and in total, live sessions, sessions since `midnight`, staff, locked accounts,
    active terminals: one statement."""
    row = (
        await s.execute(
            select(
                _count(Host.online.is_(True), model=Host).label("online"),
                _count(model=Host).label("pcs"),
                _count(Session.state == "live").label("live"),
                _count(Session.started_at >= midnight).label("today"),
                _count(model=User).label("staff"),
                _count(User.locked_until > now, model=User).label("locked"),
                _count(Terminal.state == "active", model=Terminal).label("terminals"),
            )
        )
    ).one()
    return row._asdict()


async def sessions_started(s: AsyncSession, bounds: Sequence[dt.datetime]) -> list[int]:
    """Sessions started between each pair of consecutive `bounds` (one statement)."""
    # One range count per day on the started_at index: portable SQL, and ~30 index range scans are
    # cheaper than grouping every session of the month by a computed date.
    per_day = [_count(Session.started_at >= lo, Session.started_at < hi) for lo, hi in itertools.pairwise(bounds)]
    return [int(n) for n in (await s.execute(select(*per_day))).one()]
