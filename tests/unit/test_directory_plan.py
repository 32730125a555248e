"""The directory synchronisation's plan (pure): each kind of change, local accounts and conflicts,
accounts disabled by hand, the last administrator, and (hypothesis) applying a plan then planning
again from the same directory changes nothing."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from jiseki.gateway.directory.people import AccountState, DirectoryPerson
from jiseki.gateway.directory.plan import Account, Fields, Plan, plan_sync


def _person(
    login: str, name: str = "山田 太郎", dept: str | None = "総務課", role: str = "staff", **kw: object
) -> DirectoryPerson:
    values: dict[str, object] = {
        "dn": f"CN={login},OU=職員,DC=pref",
        "login_id": login,
        "name": name,
        "reading": "やまだ たろう",
        "department": dept,
        "role": role,
        "state": AccountState.ACTIVE,
    }
    values.update(kw)
    return DirectoryPerson(**values)  # type: ignore[arg-type]


def _account(login: str, **kw: object) -> Account:
    values: dict[str, object] = {
        "login_id": login,
        "display_name": "山田 太郎",
        "reading": "やまだ たろう",
        "department": "総務課",
        "role": "staff",
        "disabled": False,
        "source": "directory",
        "directory_dn": f"CN={login},OU=職員,DC=pref",
    }
    values.update(kw)
    return Account(**values)  # type: ignore[arg-type]


def _kinds(plan: Plan) -> dict[str, str]:
    return {c.login_id: c.kind for c in plan.changes}


ROOT = _account("root", source="local", role="admin", directory_dn=None)


def test_create_update_disable_and_leave_local_accounts_alone() -> None:
    people = [
        _person("new"),
        _person("moved", dept="税務課"),
        _person("same"),
        _person("off", state=AccountState.DISABLED),
        _person("gone-later", state=AccountState.EXPIRED),
        _person("locked", state=AccountState.LOCKED),
        _person("never", state=AccountState.DISABLED),  # not here and disabled there: not created
    ]
    accounts = [
        ROOT,
        _account("moved"),
        _account("same"),
        _account("off"),
        _account("gone-later"),
        _account("locked"),
        _account("left"),
        _account("clerk", source="local"),
    ]
    plan = plan_sync(people, accounts)
    assert _kinds(plan) == {
        "new": "create",
        "moved": "update",
        "off": "disable",
        "gone-later": "disable",
        "left": "disable",
    }
    moved = next(c for c in plan.changes if c.login_id == "moved")
    assert moved.before == {"department": "総務課"} and moved.after == {"department": "税務課"}
    reasons = {c.login_id: c.reason for c in plan.of("disable")}
    assert reasons == {"off": "disabled", "gone-later": "expired", "left": "gone"}
    created = plan.of("create")[0]
    assert created.after == {
        "display_name": "山田 太郎",
        "reading": "やまだ たろう",
        "department": "総務課",
        "role": "staff",
    }
    counts = plan.counts()
    assert (counts["create"], counts["update"], counts["disable"], counts["people"]) == (1, 1, 3, 7)


def test_a_local_account_with_a_directory_login_id_is_a_conflict() -> None:
    plan = plan_sync([_person("Clerk"), _person("root", role="staff")], [ROOT, _account("clerk", source="local")])
    assert plan.changes == []
    assert sorted((n.kind, n.login_id) for n in plan.notes) == [("conflict", "clerk"), ("conflict", "root")]


def test_enable_only_what_a_synchronisation_disabled() -> None:
    by_sync = _account("back", disabled=True, directory_dn=None)
    by_hand = _account("kept", disabled=True)
    plan = plan_sync([_person("back", name="山田 花子"), _person("kept")], [ROOT, by_sync, by_hand])
    assert _kinds(plan) == {"back": "enable"}
    assert plan.of("enable")[0].after == {"display_name": "山田 花子"}
    assert [(n.kind, n.login_id) for n in plan.notes] == [("kept_disabled", "kept")]


def test_only_the_fields_the_directory_gives() -> None:
    account = _account("a", role="admin", reading="べつ", department="税務課")
    people = [_person("a", role="staff", reading=None, department=None)]
    assert plan_sync(people, [ROOT, account], Fields(roles=False, readings=False)).changes == []
    plan = plan_sync(people, [ROOT, account], Fields(roles=True, readings=True))
    assert plan.of("update")[0].after == {"reading": None, "role": "staff"}


def test_the_last_administrator_is_neither_disabled_nor_demoted() -> None:
    admin = _account("boss", role="admin")
    scoped = _account("deputy", role="admin", unscoped=False)  # a delegated administrator does not count
    plan = plan_sync([_person("boss", role="staff", name="新しい 名前")], [admin, scoped])
    assert plan.of("update")[0].after == {"display_name": "新しい 名前"}  # the rest changes, the role stays
    assert [(n.kind, n.login_id) for n in plan.notes] == [("last_admin", "boss")]
    assert plan_sync([], [admin]).changes == []
    # Another administrator created in the same run makes it possible.
    plan = plan_sync([_person("boss", role="staff"), _person("next", role="admin")], [admin])
    assert _kinds(plan) == {"boss": "update", "next": "create"}


def test_invalid_and_duplicate_login_ids_are_notes() -> None:
    plan = plan_sync([_person("bad id!"), _person("twin"), _person("TWIN")], [ROOT])
    assert _kinds(plan) == {"twin": "create"}
    assert sorted(n.kind for n in plan.notes) == ["duplicate", "invalid"]


# -- any input: applying the plan, then planning again, gives no change --

LOGINS = st.sampled_from(["a", "b", "c", "d", "e", "root"])
NAMES = st.sampled_from(["山田 太郎", "佐藤 花子", "", "  鈴木　一郎 "])
DEPTS = st.sampled_from([None, "", "総務課", "税務課"])
ROLES = st.sampled_from(["staff", "helpdesk", "admin", "auditor"])
READINGS = st.sampled_from([None, "やまだ", "ヤマダ", "x" * 300])
EMAILS = st.sampled_from([None, "yamada@pref.example.lg.jp", "sato@pref.example.lg.jp"])

people_strategy = st.lists(
    st.builds(
        DirectoryPerson,
        dn=st.sampled_from(["CN=1", "CN=2"]),
        login_id=LOGINS,
        name=NAMES,
        reading=READINGS,
        department=DEPTS,
        role=ROLES,
        state=st.sampled_from(list(AccountState)),
        email=EMAILS,
    ),
    max_size=8,
)
accounts_strategy = st.lists(
    st.builds(
        Account,
        login_id=LOGINS,
        display_name=NAMES.filter(bool),
        reading=st.sampled_from([None, "やまだ"]),
        department=st.sampled_from(["", "総務課"]),
        role=ROLES,
        disabled=st.booleans(),
        source=st.sampled_from(["local", "directory"]),
        directory_dn=st.sampled_from([None, "CN=1", "CN=2"]),
        unscoped=st.booleans(),
        email=EMAILS,
    ),
    max_size=8,
    unique_by=lambda a: a.login_id,
)


def _applied(plan: Plan, accounts: list[Account]) -> list[Account]:
    """What applying `plan` leaves (as `sync._apply` writes it)."""
    by_id = {a.login_id: a for a in accounts}
    for change in plan.changes:
        if change.kind == "create":
            after = change.after
            by_id[change.login_id] = Account(
                change.login_id,
                str(after["display_name"]),
                after["reading"],
                str(after["department"]),
                str(after["role"]),
                False,
                "directory",
                change.dn,
                email=after.get("email"),
            )
            continue
        old = by_id[change.login_id]
        if change.kind == "disable":
            by_id[change.login_id] = replace(old, disabled=True, directory_dn=None)
            continue
        values: dict[str, object] = dict(change.after)
        if change.kind == "enable":
            values["disabled"] = False
        by_id[change.login_id] = replace(old, directory_dn=change.dn, **values)  # type: ignore[arg-type]
    return list(by_id.values())


@given(people_strategy, accounts_strategy, st.booleans(), st.booleans(), st.booleans())
def test_a_plan_applied_gives_an_empty_plan(
    people: list[DirectoryPerson], accounts: list[Account], roles: bool, readings: bool, emails: bool
) -> None:
    fields = Fields(roles=roles, readings=readings, emails=emails)
    first = plan_sync(people, accounts, fields)
    second = plan_sync(people, _applied(first, accounts), fields)
    assert second.changes == []
    # Local accounts are never in a plan; nothing is ever deleted.
    assert not {c.login_id for c in first.changes} & {a.login_id for a in accounts if a.source == "local"}
    assert {a.login_id for a in accounts} <= {a.login_id for a in _applied(first, accounts)}


def test_an_entry_the_client_could_not_read_is_not_a_leaver() -> None:
    skipped = [("cn=odd,ou=職員,dc=pref", "displayName: not UTF-8")]
    plan = plan_sync(
        [], [ROOT, _account("odd", directory_dn="CN=odd,OU=職員,DC=pref"), _account("left")], skipped=skipped
    )
    assert _kinds(plan) == {"left": "disable"}
    assert sorted((n.kind, n.login_id) for n in plan.notes) == [("invalid", ""), ("invalid", "odd")]
    assert plan.counts()["people"] == 1


def test_the_directorys_mail_address_is_taken_and_an_empty_one_keeps_the_address_here() -> None:
    people = [
        _person("new", email="new@pref.example.lg.jp"),
        _person("moved", email="moved@pref.example.lg.jp"),
        _person("none"),  # no address in the directory
        _person("same", email="same@pref.example.lg.jp"),
    ]
    accounts = [
        ROOT,
        _account("moved", email="old@pref.example.lg.jp"),
        _account("none", email="set-by-hand@pref.example.lg.jp"),
        _account("same", email="same@pref.example.lg.jp"),
    ]
    plan = plan_sync(people, accounts)
    assert _kinds(plan) == {"new": "create", "moved": "update"}
    created, updated = plan.of("create")[0], plan.of("update")[0]
    assert created.after["email"] == "new@pref.example.lg.jp"
    assert (updated.before, updated.after) == (
        {"email": "old@pref.example.lg.jp"},
        {"email": "moved@pref.example.lg.jp"},
    )
    # Without a mail attribute the addresses here are left as they are.
    assert _kinds(plan_sync(people, accounts, Fields(emails=False))) == {"new": "create"}
