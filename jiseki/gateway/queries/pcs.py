"""Office PCs as the console lists and shows them, and the enrollment tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki import __version__

from ..db.models import Assignment, AuditEvent, Certificate, Department, EnrollmentToken, Host, Session, User
from ..hosts import valid_host_id
from ..scope import WHOLE, Scope
from .audit_log import events_about
from .paging import Page, one_page
from .search import search_terms

if TYPE_CHECKING:
    from .paging import AnyRow, AnySelect

STATES = ("online", "offline", "in_use", "locked", "revoked", "outdated")
SESSIONS_SHOWN = 10  # on a PC's page
TOKENS_SHOWN = 100


def _live_hosts() -> AnySelect:
    """PCs with a live session; computed once per query (a few hundred rows), not once per PC."""
    return select(Session.host_id).where(Session.state == "live")


def _certificate_valid() -> ColumnElement[bool]:
    return exists().where(Certificate.fingerprint == Host.cert_fingerprint, Certificate.revoked_at.is_(None))


def _filters(q: str, status: str) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if q:
        conds.append(
            or_(
                *(
                    c
                    for t in search_terms(q)
                    for c in (
                        Host.id.icontains(t, autoescape=True),
                        Host.name.icontains(t, autoescape=True),
                        Host.hostname.icontains(t, autoescape=True),
                        Host.signed_in_user.icontains(t, autoescape=True),
                    )
                )
            )
        )
    if status == "online":
        conds.append(Host.online.is_(True))
    elif status == "offline":
        conds.append(Host.online.is_(False))
    elif status == "in_use":
        conds.append(Host.id.in_(_live_hosts()))
    elif status == "locked":
        conds.append(and_(Host.online.is_(True), Host.locked.is_(True)))
    elif status == "revoked":
        conds.append(not_(_certificate_valid()))
    elif status == "outdated":  # another version than the gateway's (older, in a roll-out)
        conds.append(and_(Host.agent_version.is_not(None), Host.agent_version != __version__))
    return conds


def pc_query(q: str, status: str, limit: int, offset: int, scope: Scope = WHOLE) -> tuple[AnySelect, AnySelect]:
    """(rows of one page, count): state, OS, signed-in user, version, number of assigned staff.

    The page's IDs are chosen first on the (name, id) index; only those rows are then joined with
    their assignments, sessions and certificate, so the last page costs what the first does.
    """
    conds = [scope.hosts(), *_filters(q, status)]
    page_ids = (
        select(Host.id.label("id")).where(*conds).order_by(Host.name, Host.id).limit(limit).offset(offset).subquery()
    )
    assigned = select(func.count()).where(Assignment.host_id == Host.id).correlate(Host).scalar_subquery()
    rows = (
        select(
            Host.id,
            Host.name,
            Host.online,
            Host.locked,
            Host.os,
            Host.hostname,
            Host.signed_in_user,
            Host.agent_version,
            Host.last_seen,
            assigned.label("assigned"),
            Host.id.in_(_live_hosts()).label("in_use"),
            _certificate_valid().label("valid"),
        )
        .join(page_ids, page_ids.c.id == Host.id)
        .order_by(Host.name, Host.id)
    )
    count = select(func.count()).select_from(Host).where(*conds)
    return rows, count


async def pc_page(s: AsyncSession, q: str, status: str, page: int, size: int, scope: Scope = WHOLE) -> Page[AnyRow]:
    """One page of the PC list (within `scope`): a count and one page query."""
    return await one_page(
        s,
        pc_query(q, status, 0, 0, scope)[1],
        lambda lim, off: pc_query(q, status, lim, off, scope)[0],
        page,
        size,
    )


async def outside_scope(s: AsyncSession, login_ids: list[str], scope: Scope) -> set[str]:
    """The login IDs of `login_ids` that are staff outside `scope` (unknown ones are not listed)."""
    outside: set[str] = set()
    for start in range(0, len(login_ids), 500):
        chunk = login_ids[start : start + 500]
        inside = select(User.id).where(User.id.in_(chunk), scope.users())  # NOT would drop NULL departments
        query = select(User.id).where(User.id.in_(chunk), User.id.not_in(inside))
        outside |= set((await s.execute(query)).scalars())
    return outside


async def host(s: AsyncSession, host_id: str) -> Host | None:
    """The PC, or None for an unknown or impossible ID."""
    return await s.get(Host, host_id) if valid_host_id(host_id) else None


@dataclass(frozen=True)
class PcDetails:
    certificate: Certificate | None
    staff: list[AnyRow]  # id, display_name, department, disabled of each assigned account
    sessions: list[AnyRow]  # the newest sessions to this PC
    events: list[AuditEvent]  # empty unless asked for

    @property
    def in_use(self) -> bool:
        return any(row.state == "live" for row in self.sessions)


async def pc_details(s: AsyncSession, pc: Host, *, with_events: bool, scope: Scope = WHOLE) -> PcDetails:
    """What a PC's page shows besides the PC's own row (its staff and sessions within `scope`)."""
    certificate = await s.get(Certificate, pc.cert_fingerprint)
    staff = (
        await s.execute(
            select(User.id, User.display_name, Department.name.label("department"), User.disabled)
            .join(Assignment, Assignment.user_id == User.id)
            .outerjoin(Department, Department.id == User.department_id)
            .where(Assignment.host_id == pc.id, scope.users())
            .order_by(User.id)
        )
    ).all()
    sessions = (
        await s.execute(
            select(
                Session.id,
                Session.user_id,
                User.display_name,
                Session.terminal_id,
                Session.state,
                Session.started_at,
                Session.ended_at,
                Session.end_reason,
            )
            .outerjoin(User, User.id == Session.user_id)
            .where(Session.host_id == pc.id, scope.sessions())
            .order_by(Session.created_at.desc())
            .limit(SESSIONS_SHOWN)
        )
    ).all()
    events = await events_about(s, pc.id) if with_events else []
    return PcDetails(certificate, list(staff), list(sessions), events)


async def enrollment_tokens(s: AsyncSession) -> list[EnrollmentToken]:
    """The newest enrollment tokens (used, cancelled and expired ones too)."""
    query = select(EnrollmentToken).order_by(EnrollmentToken.created_at.desc()).limit(TOKENS_SHOWN)
    return list((await s.execute(query)).scalars())
