"""Staff accounts as the console lists and shows them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..admin import department_name
from ..auth.accounts import valid_login_id
from ..db.models import Assignment, AuditEvent, Department, Host, User
from .audit_log import events_of_account
from .failed_logins import FailedLogin, failed_logins
from .paging import Page, one_page
from .search import search_terms

if TYPE_CHECKING:
    from .paging import AnyRow, AnySelect

STATES = ("locked", "disabled", "no_totp", "must_change")
SORTS = {"id": User.id, "name": User.display_name, "last_login": User.last_login_at.desc()}
MAX_DEPARTMENTS = 1000  # offered in the form's list


def _filters(q: str, role: str, state: str, now: dt.datetime) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if q:
        conds.append(
            or_(
                *(
                    c
                    for term in search_terms(q)
                    for c in (
                        User.id.icontains(term, autoescape=True),
                        User.display_name.icontains(term, autoescape=True),
                        Department.name.icontains(term, autoescape=True),
                    )
                )
            )
        )
    if role:
        conds.append(User.role == role)
    if state == "locked":
        conds.append(User.locked_until > now)
    elif state == "disabled":
        conds.append(User.disabled.is_(True))
    elif state == "no_totp":
        conds.append(User.totp_enabled.is_(False))
    elif state == "must_change":
        conds.append(User.must_change_password.is_(True))
    return conds


def staff_query(
    q: str, role: str, state: str, now: dt.datetime, sort: str, limit: int, offset: int
) -> tuple[AnySelect, AnySelect]:
    """(rows of one page, count); the page's IDs first, then their departments (no query per row)."""
    conds = _filters(q, role, state, now)
    order = SORTS[sort]
    page_ids = (
        select(User.id.label("id"))
        .outerjoin(Department, Department.id == User.department_id)
        .where(*conds)
        .order_by(order, User.id)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = (
        select(
            User.id,
            User.display_name,
            Department.name.label("department"),
            User.role,
            User.disabled,
            User.locked_until,
            User.totp_enabled,
            User.last_login_at,
        )
        .join(page_ids, page_ids.c.id == User.id)
        .outerjoin(Department, Department.id == User.department_id)
        .order_by(order, User.id)
    )
    count = (
        select(func.count()).select_from(User).outerjoin(Department, Department.id == User.department_id).where(*conds)
    )
    return rows, count


async def staff_page(
    s: AsyncSession, q: str, role: str, state: str, now: dt.datetime, sort: str, page: int, size: int
) -> Page[AnyRow]:
    """One page of the staff list, filtered and sorted: a count and one page query."""
    return await one_page(
        s,
        staff_query(q, role, state, now, sort, 0, 0)[1],
        lambda limit, offset: staff_query(q, role, state, now, sort, limit, offset)[0],
        page,
        size,
    )


async def department_names(s: AsyncSession) -> list[str]:
    return list((await s.execute(select(Department.name).order_by(Department.name).limit(MAX_DEPARTMENTS))).scalars())


async def account(s: AsyncSession, login_id: str) -> User | None:
    """The account, or None for an unknown or impossible login ID."""
    return await s.get(User, login_id) if valid_login_id(login_id) else None


@dataclass(frozen=True)
class AccountDetails:
    user: User
    department: str
    departments: list[str]  # for the form
    assigned: list[AnyRow]  # id, name, online of each assigned PC
    events: list[AuditEvent]  # empty unless asked for (the reader may see the audit log)
    failed_logins: list[FailedLogin]


async def account_details(s: AsyncSession, login_id: str, *, with_events: bool) -> AccountDetails | None:
    """Everything an account's page shows, or None if there is no such account."""
    user = await account(s, login_id)
    if user is None:
        return None
    department = await department_name(s, user.department_id)
    assigned = (
        await s.execute(
            select(Host.id, Host.name, Host.online)
            .join(Assignment, Assignment.host_id == Host.id)
            .where(Assignment.user_id == login_id)
            .order_by(Host.name)
        )
    ).all()
    events = await events_of_account(s, login_id) if with_events else []
    failed = await failed_logins(s, login_id)
    return AccountDetails(user, department, await department_names(s), list(assigned), events, failed)
