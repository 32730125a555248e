"""Security keys and passkeys in Debian's Chromium with a CDP virtual authenticator (CTAP2, resident
keys, user verification): register on the portal, log in with password + key, a cloned key refused,
the one-time-code-only policy, the keys-only policy forcing enrolment, remove the key.

WebAuthn refuses IP addresses as the RP ID: the browser opens the demo gateway as
https://localhost:<port> (a name its certificate carries), which is also the RP ID the gateway uses."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jiseki.demo.run import DemoStack

from .conftest import login, needs_desktop

pytestmark = needs_desktop

PASSWORD = "Correct-Horse-7-Battery"
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def local(stack: DemoStack) -> str:
    return f"https://localhost:{stack.port}"


def query(stack: DemoStack, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        return db.execute(sql, params).fetchall()


def in_database(stack: DemoStack, work: Any) -> None:
    """Run `work(session)` in a transaction on the demo's database (in a thread: Playwright's sync API
    keeps an event loop running in this one)."""
    from jiseki.gateway.db.engine import make_engine, sessionmaker

    async def run() -> None:
        engine = make_engine(stack.gateway.effective_database_url)
        try:
            async with sessionmaker(engine).begin() as s:
                await work(s)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def set_factor(stack: DemoStack, value: str | None) -> None:
    from jiseki.gateway.admin import set_policy

    async def work(s: Any) -> None:
        await set_policy(s, "organisation", "", {"second_factor": value}, "e2e")

    in_database(stack, work)


@pytest.fixture(scope="module")
def keyed(browser, stack: DemoStack) -> Iterator[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    """A page of the terminal's browser at https://localhost:<port>, with the WebAuthn domain on."""
    creds = stack.credentials
    assert creds is not None
    context = browser.new_context(
        ignore_https_errors=True,
        locale="ja-JP",
        client_certificates=[{"origin": local(stack), "certPath": creds.terminal_cert, "keyPath": creds.terminal_key}],
    )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    yield page, cdp
    context.close()


def authenticator(cdp: Any, credential: dict[str, Any] | None = None) -> str:
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})["authenticatorId"]
    if credential is not None:
        cdp.send("WebAuthn.addCredential", {"authenticatorId": found, "credential": credential})
    return found


def log_out(page: Any) -> None:
    page.click("header form[action='/logout'] button")
    page.wait_for_url("**/login")


def password_only(page: Any, base: str, login_id: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#login_id", login_id)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")


def test_register_log_in_with_the_key_clone_refused_then_remove(keyed, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page, cdp = keyed
    base = local(stack)
    creds = stack.credentials
    assert creds is not None
    first = authenticator(cdp)
    login(page, stack, base_url=base)
    page.click("header a[href='/keys']")
    page.wait_for_url(base + "/keys")
    assert page.locator("h1").inner_text() == "セキュリティキーとパスキー"
    page.fill("#new-name", "青いキー")
    page.click("section[data-webauthn] button[type=submit]")
    page.wait_for_url(base + "/keys?done=added")
    assert "青いキー" in page.locator("#keys").inner_text()
    # Log out, then log in with the password and the key (the code left empty: either is the default).
    log_out(page)
    page.fill("#login_id", creds.login_id)
    page.fill("#password", creds.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(base + "/")  # /login/key asked the authenticator by itself
    (credential,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": first})["credentials"]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": first})
    # The key moves on (counter 100): accepted. A copy left behind at counter 5: refused, audited.
    ahead = authenticator(cdp, {**credential, "signCount": 100})
    log_out(page)
    password_only(page, base, creds.login_id, creds.password)
    page.wait_for_url(base + "/")
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": ahead})
    clone = authenticator(cdp, {**credential, "signCount": 5})
    log_out(page)
    password_only(page, base, creds.login_id, creds.password)
    page.wait_for_url(base + "/login/key")
    status = page.locator("[data-webauthn-status]")
    status.filter(has_text="セキュリティキーを確認できませんでした").wait_for()
    assert query(stack, "SELECT actor FROM audit_events WHERE kind = 'webauthn_clone_suspected'") == [(creds.login_id,)]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": clone})
    # The one-time-code-only policy: the key is not asked for, an empty code is a wrong code.
    set_factor(stack, "totp")
    final = authenticator(cdp, {**credential, "signCount": 200})
    password_only(page, base, creds.login_id, creds.password)
    page.locator("p.error").wait_for()
    assert page.url.startswith(base + "/login")
    set_factor(stack, None)
    password_only(page, base, creds.login_id, creds.password)
    page.wait_for_url(base + "/")
    # Remove the key on the portal's page.
    page.goto(base + "/keys")
    page.click("#keys button[aria-label='「青いキー」を削除']")
    page.wait_for_url(base + "/keys?done=removed")
    assert page.locator("#keys").count() == 0
    assert query(stack, "SELECT count(*) FROM webauthn_credentials") == [(0,)]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": final})


def test_keys_only_policy_makes_the_first_login_register_a_key(keyed, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    from jiseki.gateway.admin import create_user
    from jiseki.gateway.auth.passwords import PasswordPolicy

    page, cdp = keyed
    base = local(stack)

    async def add(s: Any) -> None:
        await create_user(s, PasswordPolicy(), "e2e-key1", "鍵 太郎", "情報政策課", "staff", PASSWORD, "e2e")

    in_database(stack, add)
    set_factor(stack, "webauthn")
    try:
        authenticator(cdp)
        page.context.clear_cookies()
        password_only(page, base, "e2e-key1", PASSWORD)
        page.wait_for_url(base + "/login/key/setup")
        assert page.locator("a[href='/login/totp']").count() == 0  # no one-time code instead
        page.fill("#name", "社用スマートフォン")
        page.click("button[type=submit][data-webauthn-start]")
        page.wait_for_url(lambda url: "/login" not in url)
        log_out(page)
        password_only(page, base, "e2e-key1", PASSWORD)
        page.wait_for_url(base + "/")
        assert query(stack, "SELECT name FROM webauthn_credentials WHERE user_id = 'e2e-key1'") == [
            ("社用スマートフォン",)
        ]
    finally:
        set_factor(stack, None)
