"""What a directory synchronisation would change (pure: no I/O), from the directory's people and a
light snapshot of jiseki's accounts.

- CREATE: a person usable in the directory (active, or only locked out for now) who has no account here.
- UPDATE: a directory account whose name, reading, department, role or mail address (only the fields
  the directory gives: `Fields`) or entry DN differs.
- DISABLE: a directory account active here whose person is gone from the directory (or out of the
  configured groups), or disabled or expired there. Its entry DN is cleared: that is the marker of an
  account disabled by a synchronisation.
- ENABLE: a directory account disabled by a synchronisation (no entry DN) whose person is usable again.
  An account an administrator disabled by hand keeps its DN and stays disabled (a note says so).
- Local accounts (source "local") are never touched; one whose login ID is also in the directory is
  a CONFLICT note, never taken over silently. Nothing is ever deleted.
- The last active organisation-wide administrator is never disabled or demoted (a note instead;
  applying re-checks it with the guarded single-row operations of `jiseki.gateway.admin.accounts`).

Applying a plan and planning again from the same directory gives no change (tested with hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..auth.accounts import valid_login_id
from ..auth.kana import ReadingError, normalise_reading
from .people import AccountState, DirectoryPerson

MAX_NAME = 255  # as `jiseki.gateway.admin.errors.MAX_NAME` (not imported: keeps this module free of the database)
KINDS = ("create", "update", "disable", "enable")
NOTES = ("conflict", "invalid", "duplicate", "kept_disabled", "last_admin")
USABLE = (AccountState.ACTIVE, AccountState.LOCKED)  # a lockout passes; the login refuses it meanwhile


@dataclass(frozen=True)
class Account:
    """An account here, as much of it as the plan needs."""

    login_id: str
    display_name: str
    reading: str | None
    department: str  # "" without one
    role: str
    disabled: bool
    source: str  # "local" or "directory"
    directory_dn: str | None = None
    unscoped: bool = True  # no 所掌範囲: as an administrator, one of the whole organisation
    email: str | None = None


@dataclass(frozen=True)
class Fields:
    """Which fields the directory gives: roles only with role groups configured, readings only with a
    reading attribute (then an empty reading there removes it here), mail addresses only with a mail
    attribute (an empty one there keeps the address an administrator set here)."""

    roles: bool = True
    readings: bool = True
    emails: bool = True


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    login_id: str
    dn: str | None  # the entry (None for a DISABLE: the marker)
    before: dict[str, str | None] = field(default_factory=dict)
    after: dict[str, str | None] = field(default_factory=dict)  # CREATE: every field; UPDATE/ENABLE: the changed ones
    reason: str = ""  # DISABLE: "gone", "disabled" or "expired"


@dataclass(frozen=True)
class Note:
    kind: str  # one of NOTES
    login_id: str
    detail: str = ""


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    people: int = 0  # entries read from the directory

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((*KINDS, *NOTES), 0)
        for change in self.changes:
            counts[change.kind] += 1
        for note in self.notes:
            counts[note.kind] += 1
        counts["people"] = self.people
        return counts

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]


def _clean_name(value: str) -> str:
    return " ".join(value.split())[:MAX_NAME]


def _reading(person: DirectoryPerson) -> str | None:
    try:
        return normalise_reading(person.reading)
    except ReadingError:
        return None


def _wanted(person: DirectoryPerson, fields: Fields) -> dict[str, str | None]:
    """The fields the directory gives for `person`, in the form they are stored here."""
    wanted: dict[str, str | None] = {}
    name = _clean_name(person.name)
    if name:
        wanted["display_name"] = name
    if fields.readings:
        wanted["reading"] = _reading(person)
    if person.department is not None:
        wanted["department"] = _clean_name(person.department)
    if fields.roles:
        wanted["role"] = person.role
    if fields.emails and person.email:
        wanted["email"] = person.email
    return wanted


def _same_dn(a: str | None, b: str | None) -> bool:
    return (a or "").casefold() == (b or "").casefold()


def _current(account: Account) -> dict[str, str | None]:
    return {
        "display_name": account.display_name,
        "reading": account.reading,
        "department": account.department,
        "role": account.role,
        "email": account.email,
    }


def _unique_people(people: Iterable[DirectoryPerson], notes: list[Note]) -> dict[str, DirectoryPerson]:
    """By login ID; an unusable login ID or one seen twice (two search bases) is a note, and the
    second entry is ignored."""
    found: dict[str, DirectoryPerson] = {}
    folded: set[str] = set()
    for person in people:
        if not valid_login_id(person.login_id):
            notes.append(Note("invalid", person.login_id[:64], person.dn[:200]))
        elif person.login_id.casefold() in folded:
            notes.append(Note("duplicate", person.login_id, person.dn[:200]))
        else:
            found[person.login_id] = person
            folded.add(person.login_id.casefold())
    return found


def plan_sync(
    people: Sequence[DirectoryPerson],
    accounts: Sequence[Account],
    fields: Fields | None = None,
    skipped: Sequence[tuple[str, str]] = (),
) -> Plan:
    """`skipped`: the entries the directory client could not read (DN, why): notes, and the account
    of such an entry is not disabled for it (a bad attribute is not a leaver)."""
    fields = fields or Fields()
    plan = Plan(people=len(people) + len(skipped))
    plan.notes += [Note("invalid", "", f"{dn[:200]}: {why[:200]}") for dn, why in skipped]
    unreadable = {dn.casefold() for dn, _why in skipped}
    directory = _unique_people(people, plan.notes)
    here = {a.login_id: a for a in accounts}
    local_folded = {a.login_id.casefold(): a.login_id for a in accounts if a.source != "directory"}
    for login_id, person in directory.items():
        account = here.get(login_id)
        local = local_folded.get(login_id.casefold())
        if local is not None:
            plan.notes.append(Note("conflict", local, person.dn[:200]))
            continue
        if account is None:
            if person.state in USABLE:
                after = {"display_name": login_id, "reading": None, "department": "", "role": "staff"}
                plan.changes.append(Change("create", login_id, person.dn, {}, after | _wanted(person, fields)))
            continue
        _existing(plan, account, person, fields)
    for account in accounts:  # leavers: directory accounts whose person is gone
        if account.source != "directory" or account.login_id in directory or account.disabled:
            continue
        if account.directory_dn and account.directory_dn.casefold() in unreadable:
            plan.notes.append(Note("invalid", account.login_id, account.directory_dn[:200]))
        else:
            plan.changes.append(Change("disable", account.login_id, None, {}, {}, "gone"))
    _keep_last_admin(plan, accounts)
    return plan


def _existing(plan: Plan, account: Account, person: DirectoryPerson, fields: Fields) -> None:
    usable = person.state in USABLE
    if not usable:
        if not account.disabled:
            plan.changes.append(Change("disable", account.login_id, None, {}, {}, person.state.value))
        return
    current = _current(account)
    wanted = _wanted(person, fields)
    keys = [k for k, v in wanted.items() if current[k] != v]
    before = {k: current[k] for k in keys}
    after = {k: wanted[k] for k in keys}
    if account.disabled and account.directory_dn is None:
        plan.changes.append(Change("enable", account.login_id, person.dn, before, after))
        return
    if account.disabled:
        plan.notes.append(Note("kept_disabled", account.login_id))
    if keys or not _same_dn(account.directory_dn, person.dn):
        plan.changes.append(Change("update", account.login_id, person.dn, before, after))


def _org_admin(account: Account) -> bool:
    return account.unscoped and account.role == "admin" and not account.disabled


def _takes_admin(change: Change, account: Account | None) -> bool:
    """Does `change` take an active organisation-wide administrator away?"""
    if account is None or not _org_admin(account):
        return False
    return change.kind == "disable" or change.after.get("role", "admin") != "admin"


def _gives_admin(change: Change, account: Account | None) -> bool:
    """Does `change` make an active organisation-wide administrator (who was not one)?"""
    if change.kind == "create":
        return change.after.get("role") == "admin"
    if account is None or not account.unscoped or change.kind == "disable":
        return False
    if change.after.get("role", account.role) != "admin":
        return False
    return change.kind == "enable" or (not account.disabled and account.role != "admin")


def _keep_last_admin(plan: Plan, accounts: Sequence[Account]) -> None:
    """Refuse (as a note) the changes that would leave no active organisation-wide administrator."""
    by_id = {a.login_id: a for a in accounts}
    admins = sum(1 for a in accounts if _org_admin(a))
    admins += sum(1 for c in plan.changes if _gives_admin(c, by_id.get(c.login_id)))
    kept: list[Change] = []
    for change in plan.changes:
        if _takes_admin(change, by_id.get(change.login_id)):
            if admins <= 1:
                plan.notes.append(Note("last_admin", change.login_id))
                account = by_id[change.login_id]
                after = {k: v for k, v in change.after.items() if k != "role"}
                if change.kind == "update" and (after or not _same_dn(account.directory_dn, change.dn)):
                    before = {k: v for k, v in change.before.items() if k != "role"}  # the rest still changes
                    kept.append(Change("update", change.login_id, change.dn, before, after))
                continue
            admins -= 1
        kept.append(change)
    plan.changes = kept
