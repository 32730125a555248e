"""Setting what a delegated console account looks after (所掌範囲): departments and PC groups.

The change is audited as `admin_scope_changed` with the names before and after. It applies from the
account's next request (the console loads the scope on every request), so no web session is ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import CursorResult, Exists, exists, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit
from ..db.models import AdminScope, Department, HostGroup, User
from ..scope import Scope, scope_of, set_scope
from .accounts import user
from .errors import AdminError

SCOPED_ROLES = ("admin", "helpdesk", "auditor")
MAX_TARGETS = 1000  # departments or PC groups in one scope
LAST_FULL_ADMIN = N_("At least one administrator must look after the whole organisation; this change would leave none.")


async def _names(s: AsyncSession, model: type[Department] | type[HostGroup], ids: Iterable[int]) -> list[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = (await s.execute(select(model.id, model.name).where(model.id.in_(wanted)))).all()
    if len(found) != len(wanted):
        raise AdminError(N_("A chosen department or PC group does not exist (any more)."))
    return sorted(name for _id, name in found)


async def ids_of_names(s: AsyncSession, model: type[Department] | type[HostGroup], names: Iterable[str]) -> list[int]:
    """The IDs of departments or PC groups given by name (the CLI); an unknown name is an error."""
    ids = []
    for name in dict.fromkeys(names):
        found = (await s.execute(select(model.id).where(model.name == name))).scalar_one_or_none()
        if found is None:
            if model is Department:
                raise AdminError(N_("There is no department “{value}”."), value=name[:80])
            raise AdminError(N_("There is no PC group “{value}”."), value=name[:80])
        ids.append(found)
    return ids


def _remaining_full_admin(login_id: str) -> Exists:
    """True while an active administrator other than `login_id` has no scope (the whole organisation)."""
    return (
        exists()
        .where(User.role == "admin", User.disabled.is_(False), User.id != login_id)
        .where(~exists().where(AdminScope.user_id == User.id))
    )


async def change_scope(
    s: AsyncSession,
    login_id: str,
    department_ids: Iterable[int],
    host_group_ids: Iterable[int],
    actor: str | None,
    *,
    address: str | None = None,
) -> bool:
    """Replace the scope of a console account; False if it was already so.

    An administrator's scope is written only while another active administrator keeps the whole
    organisation: each row is one guarded INSERT … SELECT … WHERE EXISTS, after the administrators'
    rows are locked (PostgreSQL), so two administrators scoping each other at once cannot both win.
    """
    departments, groups = sorted(set(department_ids)), sorted(set(host_group_ids))
    if len(departments) > MAX_TARGETS or len(groups) > MAX_TARGETS:
        raise AdminError(N_("A scope may hold at most {n} departments and {n} PC groups."), n=MAX_TARGETS)
    row = await user(s, login_id)
    if row.role not in SCOPED_ROLES:
        raise AdminError(N_("Only console accounts (administrator, helpdesk, auditor) have a scope."))
    if login_id == actor:
        raise AdminError(N_("You cannot change your own scope; ask another administrator."))
    # Serialise scope changes of administrators (a no-op on SQLite, where writers take turns anyway).
    await s.execute(select(User.id).where(User.role == "admin").order_by(User.id).with_for_update())
    before = await scope_of(s, login_id)
    after = Scope(frozenset(departments), frozenset(groups))
    if before == after:
        return False
    before_names = {
        "departments": await _names(s, Department, before.departments),
        "host_groups": await _names(s, HostGroup, before.host_groups),
    }
    after_names = {
        "departments": await _names(s, Department, departments),
        "host_groups": await _names(s, HostGroup, groups),
    }
    if row.role == "admin" and not after.everything:
        await set_scope(s, login_id, [], [])
        await s.flush()
        guard = _remaining_full_admin(login_id)
        for kind, ids in (("department", departments), ("host_group", groups)):
            for target in ids:
                added: CursorResult[Any] = await s.execute(  # type: ignore[assignment]
                    insert(AdminScope).from_select(
                        ["user_id", "kind", "target_id"],
                        select(literal(login_id), literal(kind), literal(target)).where(guard),
                    )
                )
                if added.rowcount != 1:
                    raise AdminError(LAST_FULL_ADMIN)
    else:
        await set_scope(s, login_id, departments, groups)
    s.add(
        audit.change(
            "admin_scope_changed",
            actor=actor,
            subject=login_id,
            before=before_names,
            after=after_names,
            address=address,
        )
    )
    return True
