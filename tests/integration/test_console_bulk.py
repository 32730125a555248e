"""Bulk actions from the console's lists over real TLS: the preview's count and rows, each action,
the selection by filter (the list's own query) and by ticked rows, crafted IDs outside the filter or
the scope (所掌範囲), the per-row audit plus one summary, the cap, and the last administrator."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re

import pytest
from sqlalchemy import func, select, update

from jiseki.gateway.admin import bulk as operations
from jiseki.gateway.auth import totp
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import Assignment, AuditEvent, Department, Session, Terminal, User
from jiseki.gateway.queries import bulk as selection
from jiseki.gateway.scope import set_scope

from ..org_seed import seed_organisation
from .conftest import PASSWORD, RunningGateway, Staff
from .console_support import add_console_users, console_csrf, database, events, logged_in, post, text_of

pytestmark = pytest.mark.database

_COUNT = re.compile(r'id="bulk-effect" data-count="(\d+)"')
_ROWS = re.compile(r'<tr data-id="([^"]+)"')


async def _seed(gw: RunningGateway) -> list[str]:
    """40 staff in 4 departments (staff i in departments[i % 4]), each with PC i; the department names.
    The fixture's 総務課 (alice, bob, carol) is renamed first: the seed makes one of that name."""
    async with database(gw) as s:
        await s.execute(update(Department).where(Department.name == "総務課").values(name="本庁総務課"))
    org = await seed_organisation(gw.db_url(), staff=40, pcs=40, departments=4, groups=2, password=PASSWORD)
    return org.departments


async def _count(gw: RunningGateway, *where: object) -> int:
    async with database(gw) as s:
        return int((await s.execute(select(func.count()).select_from(User).where(*where))).scalar_one())  # type: ignore[arg-type]


def _preview_count(page: str) -> int:
    match = _COUNT.search(page)
    assert match, text_of(page)[:2000]
    return int(match.group(1))


async def test_disable_all_matching_a_search_then_enable_ticked_rows(gateway: RunningGateway) -> None:
    departments = await _seed(gateway)
    await add_console_users(gateway)
    b = await logged_in(gateway, "root")
    async with b:
        status, page, _r = await b.get("/admin/staff?q=" + departments[1])
        assert status == 200 and 'id="bulk"' in page and 'form="bulk"' in page and "data-select-all" in page
        token = await console_csrf(b)
        fields = {"action": "disable", "select": "all", "q": departments[1], "role": "", "state": ""}
        status, page, _loc = await post(b, "/admin/bulk/staff", fields, token)
        assert status == 200 and _preview_count(page) == 10
        assert len(_ROWS.findall(page)) == 10 and "10件のアカウントを無効にします" in text_of(page)
        assert await _count(gateway, User.disabled.is_(True)) == 0  # the preview changes nothing

        status, page, _loc = await post(b, "/admin/bulk/staff/apply", dict(fields, expected="9"), token)
        assert status == 409 and _preview_count(page) == 10  # the count seen is not the count now
        assert await _count(gateway, User.disabled.is_(True)) == 0
        status, page, _loc = await post(b, "/admin/bulk/staff/apply", dict(fields, expected="10"), token)
        assert status == 200 and 'data-changed="10"' in page, text_of(page)[:2000]
        dept = select(Department.id).where(Department.name == departments[1])
        assert await _count(gateway, User.disabled.is_(True)) == 10
        assert await _count(gateway, User.disabled.is_(True), User.department_id.in_(dept)) == 10
        assert len(await events(gateway, "user_disabled")) == 10
        (summary,) = await events(gateway, "bulk_action")
        details = json.loads(summary.details or "{}")
        assert summary.actor == "root" and details["action"] == "staff_disable" and details["count"] == 10

        # Ticked rows: only those that also match the filter (a crafted ID outside it changes nothing).
        disabled = ["s00002", "s00006"]
        fields = {"action": "enable", "select": "checked", "q": departments[1], "state": "disabled"}
        data = [*fields.items(), ("csrf_token", token), *(("id", i) for i in [*disabled, "s00001", "root"])]
        status, page, _r = await b.post_form("/admin/bulk/staff", data)  # type: ignore[arg-type]
        assert status == 200 and _preview_count(page) == 2 and sorted(_ROWS.findall(page)) == disabled
        status, page, _r = await b.post_form("/admin/bulk/staff/apply", data)  # type: ignore[arg-type]
        assert status == 200 and 'data-changed="2"' in page
        assert await _count(gateway, User.disabled.is_(True)) == 8
        assert await _count(gateway, User.id.in_(disabled), User.disabled.is_(False)) == 2


async def test_move_department_and_pc_assignments(gateway: RunningGateway) -> None:
    await _seed(gateway)
    await add_console_users(gateway)
    b = await logged_in(gateway, "root")
    async with b:
        token = await console_csrf(b)
        data = [("csrf_token", token), ("action", "move"), ("select", "checked"), ("q", "")]
        data += [("id", "s00001"), ("id", "s00005"), ("department", "新設課")]
        status, page, _r = await b.post_form("/admin/bulk/staff/apply", data)  # type: ignore[arg-type]
        assert status == 200 and 'data-changed="2"' in page, text_of(page)[:1000]
        async with database(gateway) as s:
            named = Department.name == "新設課"
            query = select(User.id).join(Department, Department.id == User.department_id).where(named)
            moved = (await s.execute(query)).scalars()
            assert sorted(moved) == ["s00001", "s00005"]

        # PCs: assign the PCs matching a search to one person, then remove every assignment of one of them.
        fields = {"action": "assign", "select": "all", "q": "PC-0001", "login_id": "alice", "expected": "10"}
        status, page, _loc = await post(b, "/admin/bulk/pcs", fields, token)
        assert status == 200 and _preview_count(page) == 10  # PC-00010 .. PC-00019
        status, page, _loc = await post(b, "/admin/bulk/pcs/apply", fields, token)
        assert status == 200 and 'data-changed="10"' in page
        status, page, _loc = await post(b, "/admin/bulk/pcs/apply", dict(fields, login_id="nobody"), token)
        assert status == 400 and "nobody" in text_of(page)
        async with database(gateway) as s:
            alice = set((await s.execute(select(Assignment.host_id).where(Assignment.user_id == "alice"))).scalars())
        assert alice == {"pc-1"} | {f"pc-{i:05d}" for i in range(10, 20)}
        data = [("csrf_token", token), ("action", "unassign"), ("select", "checked"), ("id", "pc-00010")]
        status, page, _r = await b.post_form("/admin/bulk/pcs/apply", [*data, ("login_id", "")])  # type: ignore[arg-type]
        assert status == 200 and 'data-changed="1"' in page
        async with database(gateway) as s:
            left = (await s.execute(select(Assignment.user_id).where(Assignment.host_id == "pc-00010"))).all()
        assert left == []
        assert len(await events(gateway, "unassigned")) == 2  # s00009's and alice's


async def test_end_sessions_and_revoke_terminals(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    now = dt.datetime.now(dt.UTC)
    async with database(gateway) as s:
        for i, (user, host) in enumerate((("alice", "pc-1"), ("bob", "pc-2"), ("carol", "pc-1"))):
            s.add(Session(id=f"sess-{i}", host_id=host, user_id=user, state="requested", created_at=now))
    hd = await logged_in(gateway, "hd")
    async with hd:
        token = await console_csrf(hd)
        # The helpdesk ends sessions but may not disable accounts.
        status, _page, _loc = await post(hd, "/admin/bulk/staff", {"action": "disable", "select": "all"}, token)
        assert status == 403
        status, page, _r = await hd.get("/admin/sessions")
        assert 'form="bulk"' in page and 'value="disable"' not in page
        fields = {"action": "end", "select": "all", "q": "pc-1", "message": "", "hold": "10", "expected": "2"}
        status, page, _loc = await post(hd, "/admin/bulk/sessions/apply", fields, token)
        assert status == 400 and "終了の理由を入力してください" in text_of(page)
        status, page, _loc = await post(hd, "/admin/bulk/sessions/apply", dict(fields, message="保守作業のため"), token)
        assert status == 200 and 'data-changed="2"' in page, text_of(page)[:1000]
    async with database(gateway) as s:
        rows = {r.id: r for r in (await s.execute(select(Session))).scalars()}
    assert rows["sess-0"].end_message == rows["sess-2"].end_message == "保守作業のため"
    assert rows["sess-1"].end_message is None  # bob's session is on pc-2: outside the search

    b = await logged_in(gateway, "root")
    async with b:
        token = await console_csrf(b)
        data = [("csrf_token", token), ("action", "revoke"), ("select", "checked"), ("id", "term-2")]
        status, page, _r = await b.post_form("/admin/bulk/terminals/apply", [*data, ("reason", "紛失")])  # type: ignore[arg-type]
        assert status == 200 and 'data-changed="1"' in page
        # Ending "their sessions" from the staff list reaches bob's open session.
        fields = {"action": "end_sessions", "select": "checked", "message": "退職のため", "hold": "0"}
        data = [*fields.items(), ("csrf_token", token), ("id", "bob")]
        status, page, _r = await b.post_form("/admin/bulk/staff", data)  # type: ignore[arg-type]
        assert status == 200 and "接続中の数：1件" in text_of(page)
        status, page, _r = await b.post_form("/admin/bulk/staff/apply", data)  # type: ignore[arg-type]
        assert status == 200 and 'data-changed="1"' in page
    async with database(gateway) as s:
        states = dict((await s.execute(select(Terminal.id, Terminal.state))).all())
        bob = await s.get(Session, "sess-1")
    assert states == {"term-1": "active", "term-2": "revoked"}
    assert bob is not None and bob.end_message == "退職のため"
    kinds = [json.loads(e.details or "{}")["action"] for e in await events(gateway, "bulk_action")]
    assert kinds == ["sessions_end", "terminals_revoke", "staff_end_sessions"]


async def test_a_delegated_administrator_changes_only_rows_in_scope(gateway: RunningGateway) -> None:
    departments = await _seed(gateway)
    await add_console_users(gateway)
    box = totp.SecretBox(gateway.config.gateway.data_dir / "secrets" / "totp.key")
    secret = totp.new_secret()
    async with database(gateway) as s:
        from jiseki.gateway.admin import create_user
        from jiseki.gateway.auth.passwords import PasswordPolicy

        await create_user(s, PasswordPolicy(), "deleg", "所属管理者", departments[2], "admin", PASSWORD, "test")
        user = await s.get(User, "deleg")
        assert user is not None
        user.totp_secret, user.totp_enabled = box.seal(secret), True
        dept = (await s.execute(select(Department.id).where(Department.name == departments[2]))).scalar_one()
        await set_scope(s, "deleg", [dept], [])
    gateway.staff["deleg"] = Staff("deleg", PASSWORD, secret)
    b = await logged_in(gateway, "deleg")
    async with b:
        token = await console_csrf(b)
        # "All" is all in scope: 10 seeded staff of the department and the delegate themself.
        status, page, _loc = await post(b, "/admin/bulk/staff", {"action": "disable", "select": "all"}, token)
        assert status == 200 and _preview_count(page) == 11
        # Crafted IDs of other departments select nothing; a department outside the scope is refused.
        data = [("csrf_token", token), ("action", "disable"), ("select", "checked"), ("id", "s00001"), ("id", "alice")]
        status, page, _r = await b.post_form("/admin/bulk/staff/apply", data)  # type: ignore[arg-type]
        assert status == 400 and await _count(gateway, User.disabled.is_(True)) == 0
        data = [("csrf_token", token), ("action", "move"), ("select", "checked"), ("id", "s00003")]
        status, page, _r = await b.post_form("/admin/bulk/staff/apply", [*data, ("department", departments[0])])  # type: ignore[arg-type]
        assert status == 400 and "担当外" in text_of(page)
        data = [("csrf_token", token), ("action", "disable"), ("select", "checked"), ("id", "s00003"), ("id", "deleg")]
        status, page, _r = await b.post_form("/admin/bulk/staff/apply", data)  # type: ignore[arg-type]
        assert status == 200 and 'data-changed="1"' in page and 'data-refused="1"' in page  # not themself
        # A delegated administrator acts on staff accounts only: their own (an administrator's) is refused.
        assert "あなたの権限ではアカウント「deleg」を変更できません" in text_of(page)
        # Terminals belong to the whole organisation: a delegated administrator may not manage them,
        # even by a crafted request (and, were it allowed, no terminal is in a department's scope).
        data = [("csrf_token", token), ("action", "revoke"), ("select", "checked"), ("id", "term-1"), ("reason", "x")]
        status, page, _r = await b.post_form("/admin/bulk/terminals/apply", data)  # type: ignore[arg-type]
        assert status == 403
        status, page, _loc = await post(b, "/admin/bulk/terminals", {"action": "revoke", "select": "all"}, token)
        assert status == 403
    async with database(gateway) as s:
        assert (await s.get(Terminal, "term-1")).state == "active"  # type: ignore[union-attr]
    assert await _count(gateway, User.disabled.is_(True)) == 1


async def test_the_cap_and_the_last_administrator(gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    await _seed(gateway)
    await add_console_users(gateway)
    monkeypatch.setattr(selection, "MAX_BULK", 25)
    b = await logged_in(gateway, "root")
    async with b:
        token = await console_csrf(b)
        fields = {"action": "disable", "select": "all", "expected": "46"}
        status, page, _loc = await post(b, "/admin/bulk/staff", fields, token)
        assert status == 200 and "最大25件" in text_of(page) and "/admin/bulk/staff/apply" not in page
        status, page, _loc = await post(b, "/admin/bulk/staff/apply", fields, token)
        assert status == 400 and await _count(gateway, User.disabled.is_(True)) == 0
    # The single-row rule holds in bulk: root is the only administrator, so someone else's bulk
    # disable (the command line's operator) leaves it enabled and says why.
    engine = make_engine(gateway.db_url())
    try:
        db = sessionmaker(engine)
        result = await operations.set_staff_disabled(
            db, ["root", "s00001"], True, operations.BulkActor("operator", None), lambda role: True
        )
        async with db() as s:
            summary = (await s.execute(select(AuditEvent).where(AuditEvent.kind == "bulk_action"))).scalar_one()
    finally:
        await engine.dispose()
    assert result.changed == ["s00001"] and [r.row_id for r in result.refused] == ["root"]
    assert result.refused[0].msgid.startswith("This is the last administrator")
    assert json.loads(summary.details or "{}") == {"action": "staff_disable", "count": 1, "unchanged": 0, "refused": 1}


async def test_two_administrators_disabling_each_other_leave_one(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last-administrator rule under a race: each disables the other at the same moment (both
    counts are taken before either writes, as far as the database lets them). One stays enabled."""
    from jiseki.gateway.admin import accounts, create_user
    from jiseki.gateway.auth.passwords import PasswordPolicy

    async with database(gateway) as s:
        for login_id in ("a1", "a2"):
            await create_user(s, PasswordPolicy(), login_id, login_id, "", "admin", PASSWORD, "test")
    counted = 0
    both = asyncio.Event()
    original = accounts._other_active_admins

    async def gated(s: object, login_id: str) -> int:
        nonlocal counted
        found = await original(s, login_id)  # type: ignore[arg-type]
        counted += 1
        if counted == 2:
            both.set()
        with contextlib.suppress(TimeoutError):  # PostgreSQL makes the second wait for the first's row locks
            await asyncio.wait_for(both.wait(), 1.0)
        return found

    monkeypatch.setattr(accounts, "_other_active_admins", gated)
    engine = make_engine(gateway.db_url())
    try:
        db = sessionmaker(engine)
        results = await asyncio.gather(
            operations.set_staff_disabled(db, ["a1"], True, operations.BulkActor("a2", None), lambda role: True),
            operations.set_staff_disabled(db, ["a2"], True, operations.BulkActor("a1", None), lambda role: True),
            return_exceptions=True,
        )
    finally:
        await engine.dispose()
    assert await _count(gateway, User.role == "admin", User.disabled.is_(False)) == 1, results
    done = [r for r in results if isinstance(r, operations.BulkResult)]
    # The loser is refused by the rule (PostgreSQL) or by SQLite's one writer at a time.
    assert sum(len(r.changed) for r in done) == 1, results
