"""Staff accounts as the console lists and shows them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..admin import department_name
from ..auth.accounts import valid_login_id
from ..auth.kana import to_hiragana
from ..db.models import AdminScope, Assignment, AuditEvent, Department, Host, HostGroup, User
from ..scope import WHOLE, Scope
from .audit_log import events_of_account
from .failed_logins import FailedLogin, failed_logins
from .paging import Page, one_page
from .search import search_terms

if TYPE_CHECKING:
    from .paging import AnyRow, AnySelect

STATES = ("locked", "disabled", "no_totp", "must_change")
# あいうえお順 by reading; people without a reading after them, by name.
SORTS = {
    "reading": (User.reading.is_(None), User.reading, User.display_name),
    "id": (User.id,),
    "name": (User.display_name,),
    "last_login": (User.last_login_at.desc(),),
}
MAX_DEPARTMENTS = 1000  # offered in the form's list


@dataclass(frozen=True)
class StaffFilter:
    """The staff list's filters; `scope` is the reader's (所掌範囲), always applied."""

    q: str = ""
    role: str = ""
    state: str = ""
    department: int | None = None
    scope: Scope = WHOLE


def _filters(f: StaffFilter, now: dt.datetime) -> list[ColumnElement[bool]]:
    q, role, state = f.q, f.role, f.state
    conds: list[ColumnElement[bool]] = [f.scope.users()]
    if f.department is not None:
        conds.append(User.department_id == f.department)
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
                        User.reading.icontains(to_hiragana(term), autoescape=True),
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


def staff_query(f: StaffFilter, now: dt.datetime, sort: str, limit: int, offset: int) -> tuple[AnySelect, AnySelect]:
    """(rows of one page, count); the page's IDs first, then their departments (no query per row)."""
    conds = _filters(f, now)
    order = SORTS[sort]
    page_ids = (
        select(User.id.label("id"))
        .outerjoin(Department, Department.id == User.department_id)
        .where(*conds)
        .order_by(*order, User.id)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = (
        select(
            User.id,
            User.display_name,
            User.reading,
            Department.name.label("department"),
            User.role,
            User.disabled,
            User.locked_until,
            User.totp_enabled,
            User.last_login_at,
            exists().where(AdminScope.user_id == User.id).label("scoped"),
        )
        .join(page_ids, page_ids.c.id == User.id)
        .outerjoin(Department, Department.id == User.department_id)
        .order_by(*order, User.id)
    )
    count = (
        select(func.count()).select_from(User).outerjoin(Department, Department.id == User.department_id).where(*conds)
    )
    return rows, count


async def staff_page(
    s: AsyncSession, f: StaffFilter, now: dt.datetime, sort: str, page: int, size: int
) -> Page[AnyRow]:
    """One page of the staff list, filtered and sorted: a count and one page query."""
    return await one_page(
        s,
        staff_query(f, now, sort, 0, 0)[1],
        lambda limit, offset: staff_query(f, now, sort, limit, offset)[0],
        page,
        size,
    )


async def department_names(s: AsyncSession, scope: Scope = WHOLE) -> list[str]:
    """Department names for a form: all of them, or those of a delegated reader's scope."""
    query = select(Department.name).order_by(Department.name).limit(MAX_DEPARTMENTS)
    if not scope.everything:
        query = query.where(Department.id.in_(sorted(scope.departments)))
    return list((await s.execute(query)).scalars())


async def department_of_name(s: AsyncSession, name: str) -> int | None:
    """The ID of the department called `name`, or None (none such, or no name)."""
    if not name:
        return None
    return (await s.execute(select(Department.id).where(Department.name == name))).scalar_one_or_none()


async def departments(s: AsyncSession, scope: Scope = WHOLE) -> list[AnyRow]:
    """(id, name) of the departments a list may be filtered by: all, or the reader's scope's."""
    query = select(Department.id, Department.name).order_by(Department.name).limit(MAX_DEPARTMENTS)
    if not scope.everything:
        query = query.where(Department.id.in_(sorted(scope.departments)))
    return list((await s.execute(query)).all())


async def host_groups(s: AsyncSession) -> list[AnyRow]:
    """(id, name) of every PC group (for the scope form)."""
    return list((await s.execute(select(HostGroup.id, HostGroup.name).order_by(HostGroup.name))).all())


async def scope_names(s: AsyncSession, scope: Scope) -> tuple[list[str], list[str]]:
    """The names of a scope's departments and PC groups."""
    if scope.everything:
        return [], []
    deps = select(Department.name).where(Department.id.in_(sorted(scope.departments))).order_by(Department.name)
    groups = select(HostGroup.name).where(HostGroup.id.in_(sorted(scope.host_groups))).order_by(HostGroup.name)
    return list((await s.execute(deps)).scalars()), list((await s.execute(groups)).scalars())


async def account(s: AsyncSession, login_id: str, scope: Scope = WHOLE) -> User | None:
    """The account, or None for an unknown or impossible login ID, or one outside `scope`."""
    if not valid_login_id(login_id):
        return None
    if scope.everything:
        return await s.get(User, login_id)
    return (await s.execute(select(User).where(User.id == login_id, scope.users()))).scalar_one_or_none()


@dataclass(frozen=True)
class AccountDetails:
    user: User
    department: str
    departments: list[str]  # for the form
    assigned: list[AnyRow]  # id, name, online of each assigned PC (in the reader's scope)
    events: list[AuditEvent]  # empty unless asked for (the reader may see the audit log)
    failed_logins: list[FailedLogin]


async def account_details(
    s: AsyncSession, login_id: str, *, with_events: bool, scope: Scope = WHOLE
) -> AccountDetails | None:
    """Everything an account's page shows, or None if there is no such account in `scope`."""
    user = await account(s, login_id, scope)
    if user is None:
        return None
    department = await department_name(s, user.department_id)
    assigned = (
        await s.execute(
            select(Host.id, Host.name, Host.online)
            .join(Assignment, Assignment.host_id == Host.id)
            .where(Assignment.user_id == login_id, scope.hosts())
            .order_by(Host.name)
        )
    ).all()
    events = await events_of_account(s, login_id) if with_events else []
    failed = await failed_logins(s, login_id)
    return AccountDetails(user, department, await department_names(s, scope), list(assigned), events, failed)
