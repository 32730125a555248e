"""Delegated administrators and helpdesk members (所掌範囲) against crafted requests: every list,
count, page and change of the console covers their scope only; a row outside it is "not found"
exactly as a missing one, and a change to it is audited as refused.

The organisation: alice and carol (総務課) use pc-1; bob (財政課) uses pc-2. `dadmin` (an
administrator) and `dhd` (helpdesk) look after 総務課; `root` is a full administrator.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jiseki.gateway.admin import check_assignments, department_id
from jiseki.gateway.assignments_csv import AssignmentRow
from jiseki.gateway.db.engine import make_engine, sessionmaker, upgrade_to_head
from jiseki.gateway.db.models import AdminScope, Assignment, AuditEvent, Host, HostGroup, Session, User, utcnow
from jiseki.gateway.queries.dashboard import figures_now
from jiseki.gateway.scope import Scope, scope_of, set_scope

from .conftest import Browser, RunningGateway
from .console_support import add_console_user, add_console_users, console_csrf, database, events, logged_in, post
from .test_admin_writes import jiseki

pytestmark = pytest.mark.database  # the scope is a query clause: run on PostgreSQL too

_LOGINS = re.compile(r'data-login="([^"]+)"')
_HOSTS = re.compile(r'data-host="([^"]+)"')
_SESSIONS = re.compile(r'data-session="([^"]+)"')


@dataclass(frozen=True)
class Org:
    general: int  # 総務課
    finance: int  # 財政課


async def organisation(gw: RunningGateway) -> Org:
    """bob to 財政課; the delegated accounts; a live session each for alice (pc-1) and bob (pc-2)."""
    await add_console_users(gw)
    await add_console_user(gw, "dadmin", "admin", "総務課")
    await add_console_user(gw, "dhd", "helpdesk", "総務課")
    await add_console_user(gw, "hd2", "helpdesk", "総務課")  # a console account inside the scope
    async with database(gw) as s:
        general = await department_id(s, "総務課")
        finance = await department_id(s, "財政課")
        assert general is not None and finance is not None
        bob = await s.get(User, "bob")
        assert bob is not None
        bob.department_id = finance
        for login_id in ("dadmin", "dhd"):
            await set_scope(s, login_id, [general], [])
        now = utcnow()
        for sid, user, host in (("s-alice", "alice", "pc-1"), ("s-bob", "bob", "pc-2")):
            s.add(Session(id=sid, host_id=host, user_id=user, terminal_id="term-1", state="live", started_at=now))
    return Org(general, finance)


async def refusals(gw: RunningGateway) -> list[dict[str, str]]:
    return [json.loads(e.details or "{}") for e in await events(gw, "console_refused")]


async def same_as_missing(b: Browser, path: str, missing: str) -> None:
    """`path` answers exactly as `missing` (a row that does not exist): 404 with the same text."""
    status, body, _r = await b.get(path)
    status_missing, body_missing, _r = await b.get(missing)
    assert status == status_missing == 404, (path, status, body[:200])
    assert body == body_missing


async def test_a_delegated_administrator_sees_only_their_scope(gateway: RunningGateway) -> None:
    org = await organisation(gateway)
    async with await logged_in(gateway, "dadmin") as b:
        status, page, _r = await b.get("/admin/staff")
        assert status == 200
        assert set(_LOGINS.findall(page)) == {"alice", "carol", "dadmin", "dhd", "hd2"}
        # A crafted filter for another department, a search, a role filter: nobody from outside.
        for query in (f"department={org.finance}", "department=999999", "department=x", "q=bob", "q=財政"):
            status, page, _r = await b.get(f"/admin/staff?{query}")
            assert status == 200 and _LOGINS.findall(page) == [], query
        status, page, _r = await b.get(f"/admin/staff?department={org.general}&role=staff")
        assert set(_LOGINS.findall(page)) == {"alice", "carol"}
        # The department filter offers the scope's departments only.
        assert f'<option value="{org.general}"' in page and f'<option value="{org.finance}"' not in page
        # Pages by URL: the same 404 as a missing row.
        await same_as_missing(b, "/admin/account/bob", "/admin/account/nobody")
        await same_as_missing(b, "/admin/account/root", "/admin/account/nobody")
        await same_as_missing(b, "/admin/pc/pc-2", "/admin/pc/no-pc")
        await same_as_missing(b, "/admin/session/s-bob/end", "/admin/session/no-session/end")
        assert (await b.get("/admin/account/alice"))[0] == 200
        assert (await b.get("/admin/pc/pc-1"))[0] == 200
        assert (await b.get("/admin/session/s-alice/end"))[0] == 200
        # Lists of PCs and sessions.
        status, page, _r = await b.get("/admin/pcs")
        assert _HOSTS.findall(page) == ["pc-1"]
        assert _HOSTS.findall((await b.get("/admin/pcs?q=pc-2"))[1]) == []
        status, page, _r = await b.get("/admin/sessions?fragment=1")
        assert _SESSIONS.findall(page) == ["s-alice"]
        # The dashboard counts their scope: 2 PCs → 1, 2 live sessions → 1, staff 5 of 9.
        status, page, _r = await b.get("/admin?fragment=1")
        assert re.search(r'href="/admin/staff">5</a>', page), page
        assert re.search(r'href="/admin/sessions">1</a>', page)
        assert re.search(r"<small>/ 1</small>", page)
        assert "/admin/terminals" not in page  # the terminal count belongs to the organisation
        # Organisation-wide pages are not theirs, nor in the navigation.
        status, page, _r = await b.get("/admin/staff")
        for href in ("/admin/terminals", "/admin/enrollment", "/admin/policies"):
            assert f'href="{href}"' not in page, href
        for path in ("/admin/terminals", "/admin/terminal/term-1", "/admin/enrollment"):
            assert (await b.get(path))[0] == 403, path
        # The page of a PC in scope does not list staff from outside it.
        async with database(gateway) as s:
            s.add(Assignment(user_id="bob", host_id="pc-1"))
        status, page, _r = await b.get("/admin/pc/pc-1")
        assert set(_LOGINS.findall(page)) == {"alice", "carol"}
    # The full administrator sees everyone (the same pages, no scope).
    async with await logged_in(gateway, "root") as b:
        status, page, _r = await b.get(f"/admin/staff?department={org.finance}")
        assert _LOGINS.findall(page) == ["bob"]
        assert set(_HOSTS.findall((await b.get("/admin/pcs"))[1])) == {"pc-1", "pc-2"}
        assert 'href="/admin/terminals"' in (await b.get("/admin"))[1]


async def test_a_delegated_administrator_changes_nothing_outside_their_scope(gateway: RunningGateway) -> None:
    org = await organisation(gateway)
    async with database(gateway) as s:
        bob_before = await s.get(User, "bob")
        assert bob_before is not None
        bob_hash = bob_before.password_hash
    async with await logged_in(gateway, "dadmin") as b:
        token = await console_csrf(b)
        # Account actions on bob (財政課): 404, as for a missing account.
        for action in ("disable", "unlock", "reset-password", "reset-totp"):
            status, body, _loc = await post(b, f"/admin/account/bob/{action}", {}, token)
            assert status == 404 and body == "no such account", action
        status, _body, _loc = await post(b, "/admin/account/bob", {"display_name": "x", "department": "総務課"}, token)
        assert status == 404
        # Assignments: both sides must be in scope.
        status, body, _loc = await post(b, "/admin/account/alice/assign", {"host_id": "pc-2"}, token)
        assert status == 400 and "pc-2" in body
        assert (await post(b, "/admin/account/alice/assign", {"host_id": "no-pc"}, token))[0] == 400
        assert (await post(b, "/admin/account/bob/assign", {"host_id": "pc-1"}, token))[0] == 404
        assert (await post(b, "/admin/account/bob/unassign", {"host_id": "pc-2"}, token))[0] == 404
        assert (await post(b, "/admin/account/alice/unassign", {"host_id": "pc-2"}, token))[0] == 404
        assert (await post(b, "/admin/pc/pc-2/assign", {"login_ids": "alice"}, token))[0] == 404
        assert (await post(b, "/admin/pc/pc-2/unassign", {"login_id": "bob"}, token))[0] == 404
        assert (await post(b, "/admin/pc/pc-1/unassign", {"login_id": "bob"}, token))[0] == 404
        async with database(gateway) as s:  # a staff member of no department, outside the scope too
            dave = User(id="dave", display_name="Dave", role="staff", password_hash="x", department_id=None)
            s.add(dave)
        status, page, _loc = await post(b, "/admin/pc/pc-1/assign", {"login_ids": "bob dave carol"}, token)
        assert status == 200 and "bob" in page and "dave" in page  # listed as unknown login IDs
        # Revoking bob's PC, ending bob's session.
        assert (await post(b, "/admin/pc/pc-2/revoke", {"reason": "x"}, token))[0] == 404
        status, _body, _loc = await post(b, "/admin/session/s-bob/end", {"message": "x", "hold": "0"}, token)
        assert status == 404
        # Inside the scope: no role above staff, no department outside the scope.
        status, _body, _loc = await post(
            b, "/admin/account/alice", {"display_name": "Alice", "department": "財政課"}, token
        )
        assert status == 403
        status, _body, _loc = await post(
            b, "/admin/account/alice", {"display_name": "Alice", "department": "新しい課"}, token
        )
        assert status == 403
        status, _body, _loc = await post(
            b, "/admin/account/alice", {"display_name": "Alice", "department": "総務課", "role": "admin"}, token
        )
        assert status == 403
        status, _body, _loc = await post(
            b, "/admin/staff", {"login_id": "n1", "display_name": "x", "department": "財政課", "role": "staff"}, token
        )
        assert status == 403
        status, _body, _loc = await post(
            b, "/admin/staff", {"login_id": "n2", "display_name": "x", "department": "", "role": "staff"}, token
        )
        assert status == 403
        status, _body, _loc = await post(
            b,
            "/admin/staff",
            {"login_id": "n3", "display_name": "x", "department": "総務課", "role": "helpdesk"},
            token,
        )
        assert status == 403
        # A console account in the department is not theirs to reset (it would be taken over).
        assert (await post(b, "/admin/account/hd2/reset-password", {}, token))[0] == 403
        # Scopes, terminals, enrollment tokens, policies: organisation-wide.
        assert (await post(b, "/admin/account/dhd/scope", {"department": str(org.finance)}, token))[0] == 403
        assert (await post(b, "/admin/terminal/term-1/revoke", {"reason": "x"}, token))[0] == 403
        assert (await post(b, "/admin/enrollment", {"host_id": "pc-9", "name": "x", "hours": "24"}, token))[0] == 403
        assert (await post(b, "/admin/policies/group", {"pc": "pc-1", "group": "本庁舎"}, token))[0] == 403
        # What is theirs works: a staff account in 総務課, moved nowhere else, and ending alice's session.
        status, page, _loc = await post(
            b,
            "/admin/staff",
            {"login_id": "n4", "display_name": "新人", "department": "総務課", "role": "staff"},
            token,
        )
        assert status == 200 and 'id="temporary-password"' in page
        status, _body, location = await post(
            b, "/admin/account/alice", {"display_name": "有村 アリス", "department": "総務課"}, token
        )
        assert status == 303 and location.endswith("done=updated")
        assert (await post(b, "/admin/account/carol/disable", {}, token))[0] == 303
        status, _body, _loc = await post(b, "/admin/session/s-alice/end", {"message": "点検", "hold": "0"}, token)
        assert status == 303
        # The forms offer the scope only: a select of its departments, the role "staff".
        status, page, _r = await b.get("/admin/staff/new")
        assert '<select id="department"' in page and "財政課" not in page
        assert '<option value="helpdesk"' not in page
    async with database(gateway) as s:
        bob = await s.get(User, "bob")
        assert bob is not None and not bob.disabled and bob.password_hash == bob_hash
        assert bob.department_id == org.finance
        assert await s.get(Assignment, ("alice", "pc-2")) is None
        assert await s.get(Assignment, ("bob", "pc-1")) is None
        assert await s.get(Assignment, ("dave", "pc-1")) is None
        assert await s.get(Assignment, ("bob", "pc-2")) is not None
        for login_id in ("n1", "n2", "n3"):
            assert await s.get(User, login_id) is None, login_id
        assert await s.get(User, "n4") is not None
        session_bob = await s.get(Session, "s-bob")
        assert session_bob is not None and session_bob.end_message is None
        session_alice = await s.get(Session, "s-alice")
        assert session_alice is not None and session_alice.end_message == "点検"
        alice = await s.get(User, "alice")
        assert alice is not None and alice.role == "staff" and alice.department_id == org.general
        assert await scope_of(s, "dhd") == Scope(frozenset({org.general}))
    refused = await refusals(gateway)
    out_of_scope = [r for r in refused if r.get("reason") == "out_of_scope"]
    # Each crafted change to a row outside the scope left a trace (the GETs did not).
    assert len(out_of_scope) == 15, out_of_scope
    assert {r["path"] for r in out_of_scope} >= {
        "/admin/account/bob/disable",
        "/admin/account/alice/assign",
        "/admin/pc/pc-2/revoke",
        "/admin/session/s-bob/end",
        "/admin/pc/pc-1/assign",
    }
    assert {r["action"] for r in refused if r.get("reason") is None} >= {
        "department_scope",
        "grant_role",
        "scope_manage",
    }


async def test_a_delegated_helpdesk_member_helps_their_scope_only(gateway: RunningGateway) -> None:
    await organisation(gateway)
    async with await logged_in(gateway, "dhd") as b:
        token = await console_csrf(b)
        status, page, _loc = await post(b, "/admin/account/alice/reset-password", {}, token)
        assert status == 200 and 'id="temporary-password"' in page
        status, body, _loc = await post(b, "/admin/account/bob/reset-password", {}, token)
        assert status == 404 and body == "no such account"
        assert (await post(b, "/admin/account/bob/unlock", {}, token))[0] == 404
        status, _body, _loc = await post(b, "/admin/session/s-bob/end", {"message": "x", "hold": "0"}, token)
        assert status == 404
        await same_as_missing(b, "/admin/account/bob", "/admin/account/nobody")
        status, page, _r = await b.get("/admin/staff")
        assert "bob" not in _LOGINS.findall(page)
        status, _page, _loc = await post(
            b, "/admin/staff", {"login_id": "h1", "display_name": "x", "department": "財政課", "role": "staff"}, token
        )
        assert status == 403
        assert (await b.get("/admin/terminals"))[0] == 403
    async with database(gateway) as s:
        assert await s.get(User, "h1") is None
        bob = await s.get(User, "bob")
        assert bob is not None and not bob.must_change_password


async def test_a_pc_group_scope_covers_its_pcs_and_their_staff(gateway: RunningGateway) -> None:
    await organisation(gateway)
    async with database(gateway) as s:
        group = HostGroup(name="財政棟")
        s.add(group)
        await s.flush()
        pc2 = await s.get(Host, "pc-2")
        assert pc2 is not None
        pc2.host_group_id = group.id
        await set_scope(s, "dhd", [], [group.id])
    async with await logged_in(gateway, "dhd") as b:
        status, page, _r = await b.get("/admin/staff")
        assert _LOGINS.findall(page) == ["bob"]
        assert _HOSTS.findall((await b.get("/admin/pcs"))[1]) == ["pc-2"]
        assert (await b.get("/admin/account/alice"))[0] == 404
        assert (await b.get("/admin/account/bob"))[0] == 200
        # No department in the scope: creating staff has nowhere to put them.
        status, _page, _loc = await post(
            b, "/admin/staff", {"login_id": "h2", "display_name": "x", "department": "財政課", "role": "staff"}
        )
        assert status == 403


async def test_a_full_administrator_sets_a_scope_and_it_applies_at_once(gateway: RunningGateway) -> None:
    org = await organisation(gateway)
    async with database(gateway) as s:
        group = HostGroup(name="本庁舎")
        s.add(group)
        await s.flush()
        group_id = group.id
    async with await logged_in(gateway, "hd") as helpdesk, await logged_in(gateway, "root") as b:
        assert "bob" in _LOGINS.findall((await helpdesk.get("/admin/staff"))[1])
        status, page, _r = await b.get("/admin/account/hd")
        assert 'id="scope-form"' in page and "組織全体" in page
        assert (await b.get("/admin/account/alice"))[1].count('id="scope-form"') == 0  # staff have no scope
        token = await console_csrf(b)
        status, _body, location = await post(
            b, "/admin/account/hd/scope", {"department": str(org.general), "host_group": str(group_id)}, token
        )
        assert status == 303 and location.endswith("done=updated")
        status, page, _r = await b.get("/admin/account/hd")
        assert "総務課" in page and "本庁舎" in page and f'value="{org.general}" checked' in page
        status, page, _r = await b.get("/admin/staff?role=helpdesk")
        row = page[page.index('data-login="hd"') :].split("</tr>")[0]
        assert "所掌限定" in row
        # The helpdesk member's next page is limited (no new login needed).
        assert "bob" not in _LOGINS.findall((await helpdesk.get("/admin/staff"))[1])
        assert (await helpdesk.get("/admin/account/bob"))[0] == 404
        # Crafted values: an unknown department, not a number, a staff account, one's own scope.
        assert (await post(b, "/admin/account/hd/scope", {"department": "999999"}, token))[0] == 400
        assert (await post(b, "/admin/account/hd/scope", {"department": "x"}, token))[0] == 400
        assert (await post(b, "/admin/account/alice/scope", {"department": str(org.general)}, token))[0] == 400
        assert (await post(b, "/admin/account/root/scope", {"department": str(org.general)}, token))[0] == 400
        # A full administrator's changes are as before: a missing PC or login is no refusal.
        assert (await post(b, "/admin/account/alice/unassign", {"host_id": "no-pc"}, token))[0] == 303
        assert (await post(b, "/admin/pc/pc-1/unassign", {"login_id": "nobody"}, token))[0] == 303
        assert (await post(b, "/admin/account/alice/assign", {"host_id": "no-pc"}, token))[0] == 400
        assert await refusals(gateway) == []
        # Clearing it: the whole organisation again.
        status, _body, location = await post(b, "/admin/account/hd/scope", {}, token)
        assert status == 303
        assert "bob" in _LOGINS.findall((await helpdesk.get("/admin/staff"))[1])
    first, second = await events(gateway, "admin_scope_changed")
    assert (first.actor, first.subject) == ("root", "hd")
    assert json.loads(first.details or "{}") == {
        "before": {"departments": [], "host_groups": []},
        "after": {"departments": ["総務課"], "host_groups": ["本庁舎"]},
    }
    assert json.loads(second.details or "{}")["after"] == {"departments": [], "host_groups": []}


async def test_two_administrators_scoping_each_other_at_once_leave_one_for_the_organisation(
    gateway: RunningGateway,
) -> None:
    org = await organisation(gateway)
    await add_console_user(gateway, "root2", "admin")
    async with database(gateway) as s:
        await set_scope(s, "dadmin", [], [])  # dadmin: a full administrator too, but disabled below
        dadmin = await s.get(User, "dadmin")
        assert dadmin is not None
        dadmin.disabled = True
    async with await logged_in(gateway, "root") as a, await logged_in(gateway, "root2") as b:
        token_a, token_b = await console_csrf(a), await console_csrf(b)
        for _round in range(3):
            answers = await asyncio.gather(
                post(a, "/admin/account/root2/scope", {"department": str(org.general)}, token_a),
                post(b, "/admin/account/root/scope", {"department": str(org.general)}, token_b),
            )
            statuses = sorted(status for status, _body, _loc in answers)
            assert statuses in ([303, 400], [303, 403]), statuses
            async with database(gateway) as s:
                full = (
                    await s.execute(
                        select(func.count())
                        .select_from(User)
                        .where(User.role == "admin", User.disabled.is_(False))
                        .where(~select(AdminScope.user_id).where(AdminScope.user_id == User.id).exists())
                    )
                ).scalar_one()
                assert full == 1
                await s.execute(AdminScope.__table__.delete().where(AdminScope.user_id.in_(("root", "root2"))))


async def test_the_cli_shows_sets_and_clears_a_scope(gateway: RunningGateway) -> None:
    await organisation(gateway)
    status, output = await jiseki(gateway, "admin", "scope", "hd2", "--department", "総務課", "--department", "財政課")
    assert status == 0 and "総務課" in output and "財政課" in output, output
    status, output = await jiseki(gateway, "admin", "scope", "hd2")
    assert status == 0 and "departments: 総務課, 財政課" in output
    status, output = await jiseki(gateway, "admin", "scope", "hd2", "--department", "存在しない課")
    assert status != 0
    status, output = await jiseki(gateway, "admin", "scope", "alice", "--department", "総務課")
    assert status != 0  # a staff account has no scope
    status, output = await jiseki(gateway, "admin", "scope", "hd2", "--clear")
    assert status == 0 and "the whole organisation" in output
    async with database(gateway) as s:
        assert await scope_of(s, "hd2") == Scope()
        kinds = (await s.execute(select(AuditEvent.actor).where(AuditEvent.kind == "admin_scope_changed"))).scalars()
        assert list(kinds) == ["cli", "cli"]


@pytest.fixture
def empty_database(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> str:
    """Another empty database of the engine under test (the seeded organisation has its own 総務課)."""
    if database_url:
        return str(request.getfixturevalue("postgres").new_database())
    return f"sqlite+aiosqlite:///{tmp_path / 'org.db'}"


async def test_scope_clauses_stay_fast_over_a_prefecture(empty_database: str) -> None:
    """5,000 staff and PCs (tests/org_seed.py): the staff and PC lists' count and page with a scope of
    two departments and a PC group, by the query functions the console uses."""
    from jiseki.gateway.queries import pcs as pc_queries
    from jiseki.gateway.queries import staff as staff_queries
    from tests.org_seed import seed_organisation

    engine = make_engine(empty_database)
    try:
        await upgrade_to_head(engine)
        org = await seed_organisation(empty_database, password="unused-Password-1", staff=5000, pcs=5000)
        async with sessionmaker(engine)() as s:
            groups = dict((await s.execute(select(HostGroup.name, HostGroup.id))).all())
            scope = Scope(frozenset(org.department_ids[:2]), frozenset({groups[org.host_groups[5]]}))
            started = time.perf_counter()
            staff = await staff_queries.staff_page(s, staff_queries.StaffFilter(scope=scope), utcnow(), "id", 3, 50)
            pcs = await pc_queries.pc_page(s, "", "", 1, 50, scope)
            elapsed = time.perf_counter() - started
            # Departments 0 and 1 of 40: staff 0, 1, 40, 41, …; PC group 5 of 10: PCs 5, 15, …, each
            # assigned to the staff member with its number.
            expected = {i for i in range(5000) if i % 40 in (0, 1) or i % 10 == 5}
            assert staff.paging.total == len(expected)
            assert [r.id for r in staff.rows] == [f"s{i + 1:05d}" for i in sorted(expected)][100:150]
            assert pcs.paging.total == len(expected)
            assert [r.id for r in pcs.rows] == [f"pc-{i + 1:05d}" for i in sorted(expected)][:50]
            # The dashboard's figures in one statement, scoped the same way.
            figures = await figures_now(s, utcnow(), utcnow(), scope)
            assert figures["staff"] == figures["pcs"] == len(expected) and figures["terminals"] is None
    finally:
        await engine.dispose()
    print(f"scoped staff page + PC page over 5,000 rows: {elapsed * 1000:.0f} ms")
    assert elapsed < 5.0, elapsed


async def test_an_assignment_check_within_a_scope_knows_only_its_staff_and_pcs(gateway: RunningGateway) -> None:
    """The CSV import's check (admin.check_assignments) with a scope: both sides must be in it."""
    org = await organisation(gateway)
    rows = [
        AssignmentRow(1, "alice", "pc-2", "assign"),  # PC outside
        AssignmentRow(2, "bob", "pc-1", "assign"),  # staff member outside
        AssignmentRow(3, "alice", "pc-1", "remove"),  # both inside
    ]
    async with database(gateway) as s:
        checked = await check_assignments(s, rows, [], Scope(frozenset({org.general})))
        whole = await check_assignments(s, rows, [])
    assert [r.line for r in checked.valid] == [3]
    assert [(e.line, e.values["value"]) for e in checked.errors] == [(1, "pc-2"), (2, "bob")]
    assert [r.line for r in whole.valid] == [1, 2, 3] and whole.errors == []


async def test_a_delegated_auditor_reads_their_scope_only(gateway: RunningGateway) -> None:
    org = await organisation(gateway)
    async with database(gateway) as s:
        await set_scope(s, "aud", [org.finance], [])
    async with await logged_in(gateway, "aud") as b:
        assert _LOGINS.findall((await b.get("/admin/staff"))[1]) == ["bob"]
        assert _HOSTS.findall((await b.get("/admin/pcs"))[1]) == ["pc-2"]
        assert _SESSIONS.findall((await b.get("/admin/sessions?fragment=1"))[1]) == ["s-bob"]
        await same_as_missing(b, "/admin/account/alice", "/admin/account/nobody")
        assert (await b.get("/admin/terminals"))[0] == 403
        assert (await post(b, "/admin/account/bob/disable", {}))[0] == 403  # an auditor changes nothing


async def test_the_last_administrator_for_the_whole_organisation_stays(gateway: RunningGateway) -> None:
    """A scoped administrator does not count as "another administrator" for the last-one rule."""
    await organisation(gateway)  # root: the whole organisation; dadmin: 総務課 only
    for argv in (("update-user", "root", "--role", "staff"), ("disable", "root")):
        status, output = await jiseki(gateway, "admin", *argv)
        assert status != 0 and "last administrator" in output, (argv, output)
    async with database(gateway) as s:
        root = await s.get(User, "root")
        assert root is not None and root.role == "admin" and not root.disabled
