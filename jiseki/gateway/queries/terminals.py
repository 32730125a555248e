"""Registered terminals as the console lists and shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import AuditEvent, Certificate, Session, Terminal, User
from ..terminals import valid_terminal_id
from .audit_log import events_about
from .paging import Page, one_page
from .search import search_terms

if TYPE_CHECKING:
    from .paging import AnyRow

STATES = ("active", "revoked")
CERTIFICATES_SHOWN = 20
SESSIONS_SHOWN = 10


def _filters(q: str, status: str) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if q:
        conds.append(
            or_(
                *(
                    c
                    for t in search_terms(q)
                    for c in (Terminal.id.icontains(t, autoescape=True), Terminal.name.icontains(t, autoescape=True))
                )
            )
        )
    if status:
        conds.append(Terminal.state == status)
    return conds


async def terminal_page(s: AsyncSession, q: str, status: str, page: int, size: int) -> Page[AnyRow]:
    """One page of terminals (each with its certificate's end date): a count and one page query."""
    conds = _filters(q, status)
    return await one_page(
        s,
        select(func.count()).select_from(Terminal).where(*conds),
        lambda limit, offset: (
            select(Terminal, Certificate.not_after)
            .outerjoin(Certificate, Certificate.fingerprint == Terminal.cert_fingerprint)
            .where(*conds)
            .order_by(Terminal.id)
            .limit(limit)
            .offset(offset)
        ),
        page,
        size,
    )


async def terminal(s: AsyncSession, terminal_id: str) -> Terminal | None:
    """The terminal, or None for an unknown or impossible ID."""
    return await s.get(Terminal, terminal_id) if valid_terminal_id(terminal_id) else None


@dataclass(frozen=True)
class TerminalDetails:
    certificates: list[Certificate]  # newest first, revoked and superseded ones too
    sessions: list[AnyRow]  # the newest sessions from this terminal
    events: list[AuditEvent]  # empty unless asked for


async def terminal_details(s: AsyncSession, terminal_id: str, *, with_events: bool) -> TerminalDetails:
    """What a terminal's page shows besides the terminal's own row."""
    certificates = list(
        (
            await s.execute(
                select(Certificate)
                .where(Certificate.kind == "terminal", Certificate.owner_id == terminal_id)
                .order_by(Certificate.issued_at.desc())
                .limit(CERTIFICATES_SHOWN)
            )
        ).scalars()
    )
    sessions = (
        await s.execute(
            select(
                Session.id,
                Session.user_id,
                User.display_name,
                Session.host_id,
                Session.started_at,
                Session.ended_at,
                Session.end_reason,
            )
            .outerjoin(User, User.id == Session.user_id)
            .where(Session.terminal_id == terminal_id)
            .order_by(Session.created_at.desc())
            .limit(SESSIONS_SHOWN)
        )
    ).all()
    events = await events_about(s, terminal_id) if with_events else []
    return TerminalDetails(certificates, list(sessions), events)
