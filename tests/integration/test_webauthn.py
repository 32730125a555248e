"""Security keys and passkeys through the real gateway (TLS, terminal certificate), answered by a
software authenticator: register, log in, replay and clone refused, the three policies, removal,
hostile answers, and one challenge answering once under a race."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest
from sqlalchemy import select

from jiseki.gateway.admin import set_policy
from jiseki.gateway.admin.accounts import department_id
from jiseki.gateway.auth import totp
from jiseki.gateway.db.models import User, WebAuthnCredential
from jiseki.gateway.scope import set_scope
from tests.webauthn_soft import SoftKey

from .conftest import Browser, RunningGateway
from .console_support import add_console_user, console_csrf, database, events, logged_in, post

pytestmark = [pytest.mark.asyncio, pytest.mark.database]  # atomic writes: run on PostgreSQL too

_DATA_CSRF = re.compile(r'data-csrf="([^"]+)"')


def origin(gw: RunningGateway) -> str:
    return f"https://localhost:{gw.config.gateway.port}"


async def post_json(b: Browser, path: str, body: Any, token: str) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"Origin": b.gw.url, "X-CSRF-Token": token, "Content-Type": "application/json"}
    async with b.http.post(b.gw.url + path, data=raw, ssl=b.ssl, headers=headers, allow_redirects=False) as r:
        try:
            return r.status, await r.json(content_type=None)
        except ValueError:
            return r.status, {"text": await r.text()}


async def page_token(b: Browser, path: str) -> str:
    status, page, _r = await b.get(path)
    assert status == 200, page[:400]
    match = _DATA_CSRF.search(page)
    assert match, "no data-csrf on the page"
    return match.group(1)


async def register_key(b: Browser, key: SoftKey, name: str = "青いキー") -> tuple[int, dict[str, Any]]:
    token = await page_token(b, "/keys")
    status, options = await post_json(b, "/keys/options", {}, token)
    assert status == 200, options
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["rp"]["id"] == "localhost"
    return await post_json(b, "/keys", {"name": name, "credential": key.create(options)}, token)


async def key_step(b: Browser, key: SoftKey, **get: Any) -> tuple[int, dict[str, Any]]:
    token = await page_token(b, "/login/key")
    status, options = await post_json(b, "/login/key/options", {}, token)
    assert status == 200, options
    return await post_json(b, "/login/key", {"credential": key.get(options, **get)}, token)


def next_code(gw: RunningGateway, login_id: str) -> str:
    secret = gw.staff[login_id].totp_secret
    assert secret
    return totp.code_at(secret, time.time() + 30)


async def set_factor(gw: RunningGateway, value: str | None, department: str | None = None) -> None:
    async with database(gw) as s:
        scope, name = ("department", department) if department else ("organisation", "")
        await set_policy(s, scope, name, {"second_factor": value}, "test")


async def alice_with_key(gw: RunningGateway) -> tuple[Browser, SoftKey]:
    b = Browser(gw, gw.terminal_ssl())
    status, _body, _r = await b.login(gw.staff["alice"])
    assert status == 303
    key = SoftKey(origin(gw))
    status, answer = await register_key(b, key)
    assert status == 200, answer
    return b, key


async def test_register_then_log_in_with_the_key_then_remove_it(gateway: RunningGateway) -> None:
    b, key = await alice_with_key(gateway)
    async with b:
        status, page, _r = await b.get("/keys")
        assert "青いキー" in page and status == 200
        # Either factor (the built-in default): an empty code with a key registered asks for the key.
        status, _body, r = await b.login(gateway.staff["alice"], code="")
        assert status == 303 and r.headers["Location"] == "/login/key"
        status, _body, r = await b.get("/")
        assert status == 303 and r.headers["Location"] == "/login/key"  # not logged in yet
        status, answer = await key_step(b, key)
        assert status == 200 and answer["next"] == "/", answer
        status, _body, _r = await b.get("/")
        assert status == 200
        # A code typed is still checked as before (the next step's: the current one was used).
        status, _body, r = await b.login(gateway.staff["alice"], code=next_code(gateway, "alice"))
        assert status == 303 and r.headers["Location"] == "/"
        logins = [
            e for e in await events(gateway, "login") if json.loads(e.details or "{}").get("factor") == "webauthn"
        ]
        assert logins and logins[-1].outcome == "ok"
        assert [e.outcome for e in await events(gateway, "webauthn_registered")] == ["ok"]
        async with database(gateway) as s:
            stored = (await s.execute(select(WebAuthnCredential))).scalar_one()
            assert stored.sign_count == 1 and stored.last_used_at is not None
        token = await page_token(b, "/keys")
        status, _body, r = await b.post_form(f"/keys/{stored.id}/remove", {"csrf_token": token})
        assert status == 303, _body[:300]
        assert [e.outcome for e in await events(gateway, "webauthn_removed")] == ["ok"]
        # Bob cannot touch a key that is not his: not found.
        status, _body, _r = await b.post_form("/keys/999/remove", {"csrf_token": token})
        assert status == 404


async def test_a_cloned_key_and_a_replayed_answer_are_refused_and_counted(gateway: RunningGateway) -> None:
    b, key = await alice_with_key(gateway)
    async with b:
        await b.login(gateway.staff["alice"], code="")
        assert (await key_step(b, key))[0] == 200  # counter 1
        # The same answer again: its challenge was consumed.
        await b.login(gateway.staff["alice"], code="")
        token = await page_token(b, "/login/key")
        _status, options = await post_json(b, "/login/key/options", {}, token)
        answer = {"credential": key.get(options)}
        assert (await post_json(b, "/login/key", answer, token))[0] == 200
        await b.login(gateway.staff["alice"], code="")
        token = await page_token(b, "/login/key")
        status, _r = await post_json(b, "/login/key", answer, token)
        assert status == 401
        # A clone whose counter is behind (the original is at 2).
        await b.login(gateway.staff["alice"], code="")
        status, refused = await key_step(b, key.clone(sign_count=0))
        assert status == 401 and "error" in refused
        clones = await events(gateway, "webauthn_clone_suspected")
        assert len(clones) == 1 and clones[0].outcome == "denied"
        async with database(gateway) as s:
            user = await s.get(User, "alice")
            assert user is not None and user.failed_logins == 2  # the replay and the clone
        # The third failure locks the account (threshold 3): the key step ends and the login refuses.
        status, refused = await key_step(b, key.clone(sign_count=1))
        assert status == 401 and refused["next"] == "/login"
        status, _body, _r = await b.login(gateway.staff["alice"], code="")
        assert status == 401


async def test_one_challenge_answers_once_under_a_race(gateway: RunningGateway) -> None:
    b, key = await alice_with_key(gateway)
    async with b:
        await b.login(gateway.staff["alice"], code="")
        token = await page_token(b, "/login/key")
        _status, options = await post_json(b, "/login/key/options", {}, token)
        answer = {"credential": key.get(options)}
        results = await asyncio.gather(*(post_json(b, "/login/key", answer, token) for _ in range(6)))
        statuses = sorted(status for status, _body in results)
        assert statuses.count(200) == 1, statuses


async def test_security_keys_only_policy_forces_enrolment_and_ignores_codes(gateway: RunningGateway) -> None:
    await set_factor(gateway, "webauthn")
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        # Carol has no factor yet: the first login goes to key registration.
        status, _body, r = await b.login(gateway.staff["carol"])
        assert status == 303 and r.headers["Location"] == "/login/key/setup"
        status, page, _r = await b.get("/login/totp")
        assert status == 303  # the one-time code cannot be set up instead
        token = await page_token(b, "/login/key/setup")
        _status, options = await post_json(b, "/login/key/setup/options", {}, token)
        key = SoftKey(origin(gateway))
        status, answer = await post_json(
            b, "/login/key/setup", {"name": "鍵", "credential": key.create(options)}, token
        )
        assert status == 200, answer
        assert (await b.get("/"))[0] == 200
        # Her only key cannot be removed under this policy.
        async with database(gateway) as s:
            key_id = (await s.execute(select(WebAuthnCredential.id))).scalar_one()
        token = await page_token(b, "/keys")
        status, page, _r = await b.post_form(f"/keys/{key_id}/remove", {"csrf_token": token})
        assert status == 409 and "keys-error" in page
        # Alice has a one-time code but no key: the code proves her, then she registers a key.
        status, _body, r = await b.login(gateway.staff["alice"], code="")
        assert status == 401
        status, _body, r = await b.login(gateway.staff["alice"])
        assert status == 303 and r.headers["Location"] == "/login/key/setup"


async def test_one_time_code_only_policy_does_not_offer_the_key(gateway: RunningGateway) -> None:
    b, _key = await alice_with_key(gateway)
    async with b:
        await set_factor(gateway, "totp", department="総務課")
        status, _body, _r = await b.login(gateway.staff["alice"], code="")
        assert status == 401  # no code: refused, the key is not asked for
        status, _body, r = await b.login(gateway.staff["alice"], code=next_code(gateway, "alice"))
        assert status == 303 and r.headers["Location"] == "/"
        # The department's value wins over the organisation's.
        await set_factor(gateway, "webauthn")
        status, _body, _r = await b.login(gateway.staff["alice"], code="")
        assert status == 401


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"credential": "x"}',
        b'{"credential": {"type": "public-key", "id": "a+b", "rawId": "a+b", "response": {}}}',
        json.dumps({"credential": {"type": "public-key", "id": "A" * 2000, "rawId": "A" * 2000}}).encode(),
        b"{" * 40000,
    ],
)
async def test_hostile_answers_get_a_clear_error(gateway: RunningGateway, body: bytes) -> None:
    b, _key = await alice_with_key(gateway)
    async with b:
        await b.login(gateway.staff["alice"], code="")
        token = await page_token(b, "/login/key")
        status, answer = await post_json(b, "/login/key", body, token)
        assert status in (400, 413), answer
        if status == 400:
            assert "セキュリティキー" in answer["error"]


async def test_the_helpdesk_removes_a_key_of_their_scope_only(gateway: RunningGateway) -> None:
    b, _key = await alice_with_key(gateway)
    await b.http.close()
    await add_console_user(gateway, "hd", "helpdesk", "総務課")
    await add_console_user(gateway, "dhd", "helpdesk", "財政課")
    async with database(gateway) as s:
        finance = await department_id(s, "財政課")
        assert finance is not None
        await set_scope(s, "dhd", [finance], [])
        key_id = (await s.execute(select(WebAuthnCredential.id))).scalar_one()
    path = f"/admin/account/alice/keys/{key_id}/remove"
    async with await logged_in(gateway, "dhd") as outside:
        assert (await outside.get("/admin/account/alice"))[0] == 404
        token = await console_csrf(outside)
        assert (await post(outside, path, {}, token))[0] == 404
    async with await logged_in(gateway, "hd") as helpdesk:
        status, page, _r = await helpdesk.get("/admin/account/alice")
        assert status == 200 and 'id="account-keys"' in page and "青いキー" in page
        token = await console_csrf(helpdesk)
        assert (await post(helpdesk, f"/admin/account/alice/keys/{key_id + 1}/remove", {}, token))[0] == 404
        status, _body, location = await post(helpdesk, path, {}, token)
        assert status == 303 and location.endswith("done=key_removed")
    removed = await events(gateway, "webauthn_removed")
    assert [(e.actor, e.subject) for e in removed] == [("hd", "alice")]
    async with database(gateway) as s:
        assert (await s.execute(select(WebAuthnCredential))).first() is None


async def test_removing_the_last_two_keys_at_once_keeps_one(gateway: RunningGateway) -> None:
    await set_factor(gateway, "webauthn")
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        await b.login(gateway.staff["carol"])
        token = await page_token(b, "/login/key/setup")
        _status, options = await post_json(b, "/login/key/setup/options", {}, token)
        key = SoftKey(origin(gateway))
        status, _answer = await post_json(
            b, "/login/key/setup", {"name": "一", "credential": key.create(options)}, token
        )
        assert status == 200
        assert (await register_key(b, SoftKey(origin(gateway)), "二"))[0] == 200
        async with database(gateway) as s:
            ids = list((await s.execute(select(WebAuthnCredential.id))).scalars())
        token = await page_token(b, "/keys")
        results = await asyncio.gather(*(b.post_form(f"/keys/{i}/remove", {"csrf_token": token}) for i in ids))
        assert sorted(status for status, _body, _r in results) == [303, 409]
        async with database(gateway) as s:
            assert len(list((await s.execute(select(WebAuthnCredential.id))).scalars())) == 1


async def test_the_policy_page_sets_the_second_factor_for_departments_and_the_organisation(
    gateway: RunningGateway,
) -> None:
    await add_console_user(gateway, "root", "admin")
    async with database(gateway) as s:
        await set_policy(s, "host_group", "窓口", {"view_only": True}, "test")
    async with await logged_in(gateway, "root") as b:
        status, page, _r = await b.get("/admin/policies")
        assert status == 200
        # The organisation's form and each department's have the field; PC groups do not.
        assert page.count('name="second_factor"') == 1 + page.count('data-target="department:')
        assert 'id="organisation-second_factor"' in page and "ログインの第二要素" in page
        assert "セキュリティキー・パスキーのみ" in page and "（未設定：既定「どちらでも」を継承）" in page
        token = await console_csrf(b, "/admin/policies")
        status, _body, _location = await post(
            b, "/admin/policies", {"scope": "department", "name": "総務課", "second_factor": "webauthn"}, token
        )
        assert status == 303
        status, _body, _location = await post(
            b, "/admin/policies", {"scope": "organisation", "name": "", "second_factor": "sms"}, token
        )
        assert status == 400
        # A PC group's form cannot carry it (crafted): ignored, the group's policy has no such column.
        status, _body, _location = await post(
            b, "/admin/policies", {"scope": "host_group", "name": "窓口", "second_factor": "totp"}, token
        )
        assert status == 303
    changes = [json.loads(e.details or "{}") for e in await events(gateway, "policy_changed")]
    assert any(c.get("after", {}).get("second_factor") == "webauthn" for c in changes), changes
    async with Browser(gateway, gateway.terminal_ssl()) as staff:
        status, _body, r = await staff.login(gateway.staff["alice"])  # 総務課: keys only, no key yet
        assert status == 303 and r.headers["Location"] == "/login/key/setup"


async def test_either_policy_offers_a_key_instead_of_the_app_at_first_login_and_keys_are_renamed(
    gateway: RunningGateway,
) -> None:
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, _body, r = await b.login(gateway.staff["carol"])  # no factor yet
        assert status == 303 and r.headers["Location"] == "/login/totp"
        status, page, _r = await b.get("/login/totp")
        assert status == 200 and 'id="key-instead"' in page
        token = await page_token(b, "/login/key/setup")
        _status, options = await post_json(b, "/login/key/setup/options", {}, token)
        key = SoftKey(origin(gateway), synced=True)
        registration = {"name": "x" * 65, "credential": key.create(options)}
        status, refused = await post_json(b, "/login/key/setup", registration, token)
        assert status == 400 and "1～64文字" in refused["error"]
        _status, options = await post_json(b, "/login/key/setup/options", {}, token)
        registration = {"name": "スマートフォン", "credential": key.create(options)}
        assert (await post_json(b, "/login/key/setup", registration, token))[0] == 200
        status, page, _r = await b.get("/keys")
        assert status == 200 and "同期されるパスキー" in page
        async with database(gateway) as s:
            stored = (await s.execute(select(WebAuthnCredential))).scalar_one()
            assert stored.user_id == "carol" and stored.backed_up
        token = await page_token(b, "/keys")
        status, _body, r = await b.post_form(
            f"/keys/{stored.id}/rename", {"csrf_token": token, "name": "私物でない端末"}
        )
        assert status == 303 and r.headers["Location"] == "/keys?done=renamed"
        status, page, _r = await b.post_form(f"/keys/{stored.id}/rename", {"csrf_token": token, "name": ""})
        assert status == 400 and "1～64文字" in page
        # Her only factor: under "either" without the app it stays.
        status, page, _r = await b.post_form(f"/keys/{stored.id}/remove", {"csrf_token": token})
        assert status == 409
    async with database(gateway) as s:
        assert (await s.get(WebAuthnCredential, stored.id)).name == "私物でない端末"  # type: ignore[union-attr]
