"""The dashboard's figures: what is happening now, and sessions started per day."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Base, Host, Session, Terminal, User
from ..scope import WHOLE, Scope


def _count(*where: ColumnElement[bool], model: type[Base] = Session) -> ScalarSelect[int]:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


async def figures_now(
    s: AsyncSession, now: dt.datetime, midnight: dt.datetime, scope: Scope = WHOLE
) -> dict[str, int | None]:
    """PCs online and in total, live sessions, sessions since `midnight`, staff, locked accounts,
    active terminals: one statement. Within a delegated `scope`, its PCs, sessions and staff only,
    and no terminal count (terminals belong to the whole organisation): None."""
    hosts, sessions, users = scope.hosts(), scope.sessions(), scope.users()
    figures = [
        _count(Host.online.is_(True), hosts, model=Host).label("online"),
        _count(hosts, model=Host).label("pcs"),
        _count(Session.state == "live", sessions).label("live"),
        _count(Session.started_at >= midnight, sessions).label("today"),
        _count(users, model=User).label("staff"),
        _count(User.locked_until > now, users, model=User).label("locked"),
    ]
    if scope.everything:
        figures.append(_count(Terminal.state == "active", model=Terminal).label("terminals"))
    row: dict[str, int | None] = (await s.execute(select(*figures))).one()._asdict()
    row.setdefault("terminals", None)
    return row


async def sessions_started(s: AsyncSession, bounds: Sequence[dt.datetime], scope: Scope = WHOLE) -> list[int]:
    """Sessions started between each pair of consecutive `bounds`, within `scope` (one statement)."""
    # One range count per day on the started_at index: portable SQL, and ~30 index range scans are
    # cheaper than grouping every session of the month by a computed date.
    within = scope.sessions()
    per_day = [
        _count(Session.started_at >= lo, Session.started_at < hi, within) for lo, hi in itertools.pairwise(bounds)
    ]
    return [int(n) for n in (await s.execute(select(*per_day))).one()]
