"""Who may do what in the console, checked with crafted requests against the real gateway."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from jiseki.gateway.db.models import Assignment, AuditEvent, Certificate, EnrollmentToken, Terminal, User
from jiseki.gateway.web.console.routes import routes

from .conftest import RunningGateway
from .console_support import add_console_users, console_csrf, database, events, logged_in, post

# Real values for the routes' placeholders, so that a refusal is the permission's, not a 404.
PLACEHOLDERS = {
    "{login_id}": "alice",
    "{terminal_id}": "term-1",
    "{host_id}": "pc-1",
    "{staged_id}": "0" * 32,
    "{token_id}": "0" * 64,
    "{session_id}": "0" * 32,
    "{kind}": "staff",
    "{job_id}": "0" * 32,
    "{key_id}": "1",
}
FIELDS = {
    "login_id": "mallory",
    "display_name": "Mallory",
    "department": "総務課",
    "role": "admin",
    "host_id": "pc-1",
    "login_ids": "bob",
    "terminal_id": "T-X",
    "name": "x",
    "method": "pkcs12",
    "reason": "x",
    "hours": "24",
    "message": "x",
    "hold": "0",
}


# One's own notification mail settings (address, kinds, a test mail to oneself): an auditor chooses
# the alerts they receive (the audit chain broken, for one) without changing anything they audit.
OWN_SETTINGS = {"/admin/alerts", "/admin/alerts/test"}


def _post_paths() -> list[str]:
    paths = []
    for route in routes():
        if route.method == "POST" and route.path not in OWN_SETTINGS:
            path = route.path
            for key, value in PLACEHOLDERS.items():
                path = path.replace(key, value)
            paths.append(path)
    return paths


async def _snapshot(gw: RunningGateway) -> dict[str, object]:
    async with database(gw) as s:
        counts = {}
        for model in (User, Terminal, Assignment, Certificate, EnrollmentToken):
            counts[model.__tablename__] = (await s.execute(select(func.count()).select_from(model))).scalar_one()
        alice = await s.get(User, "alice")
        assert alice is not None
        counts["alice"] = (alice.display_name, alice.role, alice.disabled, alice.password_hash, alice.totp_enabled)
    return counts


async def test_auditor_changes_nothing_through_any_console_route(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    before = await _snapshot(gateway)
    paths = _post_paths()
    assert len(paths) >= 20
    async with await logged_in(gateway, "aud") as b:
        token = await console_csrf(b)
        for path in paths:
            status, body, _location = await post(b, path, FIELDS, token)
            assert status == 403, (path, status, body[:300])
            assert "アクセスできません" in body, path
        # Reading is allowed, including the audit log.
        for path in ("/admin", "/admin/staff", "/admin/account/alice", "/admin/audit"):
            assert (await b.get(path))[0] == 200, path
    assert await _snapshot(gateway) == before
    refused = await events(gateway, "console_refused")
    assert len(refused) == len(paths)
    assert {json.loads(e.details or "{}")["role"] for e in refused} == {"auditor"}


async def test_staff_members_have_no_console(gateway: RunningGateway) -> None:
    async with await logged_in(gateway, "alice") as b:
        status, page, _r = await b.get("/")
        assert status == 200 and 'href="/admin"' not in page
        for path in ("/admin", "/admin/staff", "/admin/audit", "/admin/account/alice"):
            status, page, _r = await b.get(path)
            assert status == 403 and "管理コンソールは、管理者・ヘルプデスク・監査担当者が使います" in page, path
        status, _page, _r = await b.post_form(
            "/admin/staff",
            {"csrf_token": await b.csrf(), "login_id": "x1", "display_name": "x", "role": "staff"},
        )
        assert status == 403
    async with database(gateway) as s:
        assert await s.get(User, "x1") is None


async def test_helpdesk_manages_staff_accounts_only(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "hd") as b:
        token = await console_csrf(b)
        # May create a staff account (and sees its temporary password once)...
        status, page, _loc = await post(
            b, "/admin/staff", {"login_id": "new1", "display_name": "新人", "role": "staff"}, token
        )
        assert status == 200 and 'id="temporary-password"' in page
        # ...but not an administrator, and may not change roles.
        status, _page, _loc = await post(
            b, "/admin/staff", {"login_id": "new2", "display_name": "x", "role": "admin"}, token
        )
        assert status == 403
        status, _page, _loc = await post(
            b, "/admin/account/alice", {"display_name": "Alice", "department": "総務課", "role": "admin"}, token
        )
        assert status == 403
        # Unlock and reset on staff-role accounts; nothing on an administrator's account.
        assert (await post(b, "/admin/account/alice/unlock", {}, token))[0] == 303
        assert (await post(b, "/admin/account/alice/reset-totp", {}, token))[0] == 303
        status, page, _loc = await post(b, "/admin/account/alice/reset-password", {}, token)
        assert status == 200 and 'id="temporary-password"' in page
        for action in ("reset-password", "reset-totp", "unlock"):
            assert (await post(b, f"/admin/account/root/{action}", {}, token))[0] == 403, action
        assert (await post(b, "/admin/account/alice/disable", {}, token))[0] == 403
        # The pages agree: no admin role on offer, no buttons on the administrator's page.
        status, page, _r = await b.get("/admin/staff/new")
        assert '<option value="admin"' not in page and '<option value="staff"' in page
        status, page, _r = await b.get("/admin/account/root")
        assert "/reset-password" not in page
        assert (await b.get("/admin/audit"))[0] == 403
    async with database(gateway) as s:
        assert await s.get(User, "new1") is not None and await s.get(User, "new2") is None
        root = await s.get(User, "root")
        assert root is not None and root.role == "admin" and not root.must_change_password


async def test_admin_changes_are_recorded_with_before_and_after(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        token = await console_csrf(b)
        status, _page, location = await post(
            b,
            "/admin/account/alice",
            {"display_name": "有村 アリス", "department": "財政課", "role": "helpdesk"},
            token,
        )
        assert status == 303 and location.endswith("done=updated")
        status, page, _r = await b.get(location)
        assert "変更を保存しました" in page and "有村 アリス" in page
        assert (await post(b, "/admin/account/alice/disable", {}, token))[0] == 303
        # An administrator cannot lock themselves out, nor remove the last administrator.
        assert (await post(b, "/admin/account/root/disable", {}, token))[0] == 403
        status, page, _loc = await post(
            b, "/admin/account/root", {"display_name": "root", "department": "", "role": "staff"}, token
        )
        assert status == 400 and "最後の管理者です" in page
        # Without the CSRF token nothing happens.
        status, _page, _loc = await post(b, "/admin/account/alice/enable", {}, token="wrong")
        assert status == 403
    [updated] = await events(gateway, "user_updated")
    details = json.loads(updated.details or "{}")
    assert updated.actor == "root" and updated.subject == "alice" and updated.address == "127.0.0.1"
    assert details["before"] == {"display_name": "Alice", "department": "総務課", "role": "staff"}
    assert details["after"] == {"display_name": "有村 アリス", "department": "財政課", "role": "helpdesk"}
    [disabled] = await events(gateway, "user_disabled")
    assert json.loads(disabled.details or "{}") == {"before": {"disabled": False}, "after": {"disabled": True}}
    async with database(gateway) as s:
        alice = await s.get(User, "alice")
        assert alice is not None and alice.disabled and alice.role == "helpdesk"
        every = list((await s.execute(select(AuditEvent.details))).scalars())
    assert not any("password_hash" in (d or "") or "Correct-Horse" in (d or "") for d in every)
