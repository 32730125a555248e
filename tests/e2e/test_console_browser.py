"""The admin console in real Chromium at 1366x768, against the demo stack (gateway, agent, Xvfb).

One logged-in browser context per role for the module (each one-time code works once). The flows:
create a staff account, import a CSV with a bad row (in English), register a terminal and download
its PKCS#12 once, revoke it, assign staff to a PC, role limits by the UI and by crafted requests, and
(last, since it keeps the demo user from reconnecting for a while) end a live session with a reason.
Screenshots of the main pages go to build/screenshots/ for review.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from jiseki.demo.run import DemoStack
from jiseki.gateway.auth import totp
from jiseki.gateway.auth.passwords import verify_password
from jiseki.gateway.pki import cert_pem, key_pem, write_private

from .conftest import needs_desktop, terminal_context

pytestmark = [pytest.mark.e2e, needs_desktop]

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "Correct-Horse-7-Battery"
OTHER_ROLES = (("it-help", "helpdesk"), ("it-audit", "auditor"))
_USED_STEPS: dict[str, set[int]] = {}


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def check_layout(page: Any) -> None:
    """At 1366x768 nothing scrolls sideways, and every form field has a label."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label'))
              .map(el => el.name || el.id)"""
    )
    assert unlabeled == [], (page.url, unlabeled)


def query(stack: DemoStack, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        return db.execute(sql, params).fetchall()


def login_as(page: Any, stack: DemoStack, login_id: str, password: str, secret: str) -> None:
    page.goto(stack.base_url + "/login")
    page.fill("#login_id", login_id)
    page.fill("#password", password)
    used = _USED_STEPS.setdefault(login_id, set())
    step = int(time.time() // 30)
    while step in used:  # a code works once per account
        time.sleep(0.5)
        step = int(time.time() // 30)
    used.add(step)
    page.fill("#code", totp.code_at(secret, step * 30))
    page.click("button[type=submit]")
    page.wait_for_url(stack.base_url + "/")


def post_from_page(page: Any, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """A crafted form POST from inside the logged-in page (its cookie, certificate and CSRF token)."""
    return tuple(
        page.evaluate(
            """async ([path, fields]) => {
                 const token = document.querySelector('input[name=csrf_token]').value;
                 const body = new URLSearchParams({csrf_token: token, ...fields});
                 const r = await fetch(path, {method: 'POST', body, redirect: 'manual'});
                 return [r.status, await r.text()];
               }""",
            [path, fields],
        )
    )


@pytest.fixture(scope="module")
def secrets_of_roles(stack: DemoStack) -> dict[str, str]:
    """A helpdesk member and an auditor in the demo's database (the demo has an administrator)."""
    from jiseki.gateway.admin import create_user
    from jiseki.gateway.auth.passwords import PasswordPolicy
    from jiseki.gateway.db.engine import make_engine, sessionmaker
    from jiseki.gateway.db.models import User

    async def add() -> dict[str, str]:
        engine = make_engine(stack.gateway.effective_database_url)
        box = totp.SecretBox(stack.gateway.data_dir / "secrets" / "totp.key")
        found = {}
        try:
            async with sessionmaker(engine).begin() as s:
                for login_id, role in OTHER_ROLES:
                    await create_user(
                        s, PasswordPolicy(), login_id, f"試験 {role}", "情報政策課", role, PASSWORD, "e2e"
                    )
                    user = await s.get(User, login_id)
                    assert user is not None
                    secret = totp.new_secret()
                    user.totp_secret, user.totp_enabled = box.seal(secret), True
                    found[login_id] = secret
        finally:
            await engine.dispose()
        return found

    # Playwright's sync API runs an event loop in this thread: the database work gets its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, add()).result()


@pytest.fixture(scope="module")
def admin(browser, stack: DemoStack) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    creds = stack.credentials
    assert creds is not None and creds.admin_login_id
    context = terminal_context(browser, stack, viewport=VIEWPORT)
    page = context.new_page()
    login_as(page, stack, creds.admin_login_id, creds.admin_password, creds.admin_totp_secret)
    page.close()
    yield context
    context.close()


def test_admin_creates_a_staff_account(admin, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    page = admin.new_page()
    page.goto(base + "/")
    assert page.get_by_role("link", name="管理コンソール").count() == 1
    page.get_by_role("link", name="管理コンソール").click()
    assert page.inner_text("h1") == "ダッシュボード"
    assert page.locator("svg rect.bar").count() == 30  # the 30-day chart, one bar a day
    check_layout(page)
    shot(page, "01-dashboard-ja")
    page.get_by_role("navigation", name="管理コンソール").get_by_role("link", name="職員", exact=True).click()
    page.get_by_role("link", name="アカウント作成").click()
    check_layout(page)
    page.get_by_label("ログインID", exact=True).fill("e2e-k0001")
    page.get_by_label("氏名", exact=True).fill("試験 太郎")
    page.get_by_label("所属", exact=True).fill("総務課")
    page.get_by_label("権限", exact=True).select_option("staff")
    page.get_by_role("button", name="アカウントを作成する").click()
    password = page.inner_text("#temporary-password").strip()
    shot(page, "03-temporary-password-ja")
    [(password_hash, must_change, role)] = query(
        stack, "SELECT password_hash, must_change_password, role FROM users WHERE id = ?", "e2e-k0001"
    )
    assert verify_password(password_hash, password) and must_change == 1 and role == "staff"
    page.get_by_role("link", name="完了").click()
    assert "試験 太郎" in page.inner_text("h1")
    check_layout(page)
    shot(page, "04-account-ja")
    page.goto(base + "/admin/staff?q=試験")
    assert page.locator("#staff tbody tr").all_inner_texts()[0].strip().startswith("e2e-k0001")
    check_layout(page)
    shot(page, "02-staff-list-ja")
    # The audit trail has who did what to whom, and the changed fields (no password).
    [(actor, details)] = query(
        stack, "SELECT actor, details FROM audit_events WHERE kind='user_created' AND subject=?", "e2e-k0001"
    )
    assert actor == stack.credentials.admin_login_id and '"after"' in details and password not in details
    page.close()


def test_csv_import_with_a_bad_row_in_english(admin, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    page = admin.new_page()
    page.goto(base + "/admin/staff/import")
    page.get_by_role("button", name="English").click()  # the preference is stored for this user
    try:
        page.wait_for_url(base + "/admin/staff/import")
        assert page.inner_text("h1") == "Import staff from a CSV file"
        data = (
            "ログインID,氏名,所属,権限\n"
            "e2e-c1,取込 一郎,財政課,職員\nbad id!,取込 二郎,財政課,職員\ne2e-c3,取込 三郎,財政課,管理者\n"
        )
        page.set_input_files(
            "#file", files=[{"name": "staff.csv", "mimeType": "text/csv", "buffer": data.encode("cp932")}]
        )
        page.get_by_role("button", name="Check the file").click()
        error_rows = page.locator("#preview tr.error")
        assert error_rows.count() == 1
        assert "bad id!" in error_rows.inner_text() and "is not valid" in error_rows.inner_text()
        assert page.locator("#preview tr.ok").count() == 2
        assert query(stack, "SELECT id FROM users WHERE id LIKE 'e2e-c%'") == []  # nothing before confirming
        check_layout(page)
        shot(page, "05-import-preview-en")
        page.get_by_role("button", name="Apply 2 change(s)").click()
        page.wait_for_selector("#counts")  # the job's page: the progress bar, then what the job did
        assert "The import has finished" in page.inner_text("[role=status]")
        with page.expect_download() as download:
            page.click("#download-passwords")
        lines = Path(download.value.path()).read_text("utf-8-sig").splitlines()
        assert lines[0] == "ログインID,氏名,所属,仮パスワード" and [x.split(",")[0] for x in lines[1:]] == [
            "e2e-c1",
            "e2e-c3",
        ]
        shot(page, "06-import-done-en")
        assert query(stack, "SELECT id, role FROM users WHERE id LIKE 'e2e-c%' ORDER BY id") == [
            ("e2e-c1", "staff"),
            ("e2e-c3", "admin"),
        ]
        page.goto(base + "/admin")
        assert page.inner_text("h1") == "Dashboard"
        shot(page, "01-dashboard-en")
    finally:
        page.get_by_role("button", name="日本語").click()
        page.wait_for_load_state()
    assert page.inner_text("h1") == "ダッシュボード"
    page.close()


def test_register_terminal_download_pkcs12_once_then_revoke(admin, browser, stack: DemoStack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    page = admin.new_page()
    page.goto(base + "/admin/terminals")
    page.get_by_role("link", name="端末を登録する").click()
    page.get_by_label("端末ID", exact=True).fill("T-E2E-01")
    page.get_by_label("端末名", exact=True).fill("試験端末 01")
    check_layout(page)
    page.get_by_role("button", name="登録して証明書を発行する").click()
    password = page.inner_text("#p12-password").strip()
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "T-E2E-01.p12"
    bundle = Path(download.value.path()).read_bytes()
    key, cert, _chain = pkcs12.load_key_and_certificates(bundle, password.encode())
    assert key is not None and cert is not None
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "urn:jiseki:terminal:T-E2E-01" in san.get_values_for_type(x509.UniformResourceIdentifier)
    shot(page, "07-terminal-issued-ja")
    # Kept nowhere: neither the password nor the file is in the database.
    stored = b"".join(p.read_bytes() for p in stack.gateway.data_dir.glob("jiseki.db*"))
    assert password.encode() not in stored and bundle[-64:] not in stored
    page.goto(base + "/admin/terminal/T-E2E-01")
    assert page.locator("a[download]").count() == 0  # offered once, on the page after registering
    # The terminal works...
    write_private(tmp_path / "t.crt", cert_pem(cert))
    write_private(tmp_path / "t.key", key_pem(key))  # type: ignore[arg-type]
    certificate = [{"origin": base, "certPath": str(tmp_path / "t.crt"), "keyPath": str(tmp_path / "t.key")}]

    def login_page_text() -> str:
        context = browser.new_context(ignore_https_errors=True, client_certificates=certificate)
        try:
            p = context.new_page()
            p.goto(base + "/login")
            return p.inner_text("body")
        finally:
            context.close()

    assert "ログインID" in login_page_text()
    # ...until it is revoked.
    page.get_by_label("理由", exact=True).fill("紛失（e2eテスト）")
    page.get_by_role("button", name="この端末を失効させる").click()
    assert "証明書を失効させました" in page.inner_text("[role=status]")
    assert "この端末は失効しています" in page.inner_text("main")
    shot(page, "08-terminal-revoked-ja")
    assert "この端末は登録されていません" in login_page_text()
    [(before_after,)] = query(
        stack, "SELECT details FROM audit_events WHERE kind='terminal_revoked' AND subject='T-E2E-01'"
    )
    assert '"before": {"state": "active"}' in before_after and '"after": {"state": "revoked"}' in before_after
    page.goto(base + "/admin/terminals")
    check_layout(page)
    shot(page, "09-terminals-ja")
    page.close()


def test_register_terminals_from_a_csv_and_download_one_archive(admin, stack: DemoStack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io
    import zipfile

    page = admin.new_page()
    page.goto(stack.base_url + "/admin/terminals")
    page.get_by_role("link", name="CSVファイルで端末を一括登録").click()
    check_layout(page)
    upload = tmp_path / "terminals.csv"
    upload.write_bytes("端末名,端末ID,備考\r\n貸出端末 A,T-CSV-A,山田さんへ\r\n貸出端末 B,,\r\n".encode("cp932"))
    page.set_input_files("#file", str(upload))
    page.get_by_role("button", name="ファイルを確認する").click()
    assert "2台の端末を登録できます。" in page.inner_text("[role=status]")
    check_layout(page)
    shot(page, "10-terminals-csv-preview-ja")
    page.get_by_role("button", name="2台を登録して証明書ファイルを作成").click()
    assert "2台の端末を登録しました" in page.inner_text("[role=status]")
    with page.expect_download() as download:
        page.click("#download-bundles")
    assert download.value.suggested_filename == "terminals-2.zip"
    with zipfile.ZipFile(Path(download.value.path())) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("terminals.csv").decode("utf-8-sig"))))
        bundles = {name: archive.read(name) for name in archive.namelist() if name.endswith(".p12")}
    assert rows[0] == ["端末ID", "端末名", "備考", "ファイル名", "パスワード"] and len(rows) == 3
    for terminal_id, _name, _note, filename, password in rows[1:]:
        _key, cert, _chain = pkcs12.load_key_and_certificates(bundles[filename], password.encode())
        assert cert is not None and filename == f"{terminal_id}.p12"
    assert query(stack, "SELECT count(*) FROM terminals WHERE name LIKE '貸出端末 %'") == [(2,)]
    shot(page, "11-terminals-csv-done-ja")
    page.close()


def test_assign_many_staff_to_a_pc(admin, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    page = admin.new_page()
    page.goto(base + "/admin/pcs")
    assert page.locator("#pcs tr[data-host=demo-pc]").count() == 1
    check_layout(page)
    shot(page, "10-pcs-ja")
    page.locator("#pcs tr[data-host=demo-pc] a").first.click()
    page.get_by_label("職員を割り当てる", exact=False).fill("demo\ne2e-k0001, e2e-c1、nobody-here")
    page.get_by_role("button", name="割り当てる", exact=True).click()
    result = page.inner_text("#assign-result")
    assert "割り当てました：e2e-k0001, e2e-c1" in result
    assert "割り当て済み：demo" in result and "nobody-here" in result
    assigned = page.locator("#assigned tbody tr").evaluate_all("rows => rows.map(r => r.dataset.login)")
    assert assigned == ["demo", "e2e-c1", "e2e-k0001"]
    check_layout(page)
    shot(page, "11-pc-ja")
    assert query(stack, "SELECT user_id FROM assignments WHERE host_id='demo-pc' ORDER BY user_id") == [
        ("demo",),
        ("e2e-c1",),
        ("e2e-k0001",),
    ]
    # A new PC starts with an enrollment token, shown once.
    page.get_by_role("navigation", name="管理コンソール").get_by_role("link", name="登録トークン").click()
    page.get_by_label("PC ID", exact=True).fill("pc-e2e-02")
    page.get_by_label("PC名", exact=True).fill("本庁3F 情報政策課 02")
    page.get_by_role("button", name="トークンを作成する", exact=True).click()
    token = page.inner_text("#enrollment-token").strip()
    assert token.startswith("jsk1.") and f"--token {token}" in page.inner_text("main")
    check_layout(page)
    shot(page, "17-enrollment-token-ja")
    page.goto(base + "/admin/enrollment")
    assert token not in page.content() and "jsk1." not in page.content()  # not shown again
    assert page.locator("#tokens tbody tr").first.inner_text().startswith("pc-e2e-02")
    page.close()


def test_helpdesk_and_auditor_see_and_do_only_what_their_role_allows(
    browser, stack: DemoStack, secrets_of_roles: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    context = terminal_context(browser, stack, viewport=VIEWPORT)
    try:
        page = context.new_page()
        login_as(page, stack, "it-help", PASSWORD, secrets_of_roles["it-help"])
        page.goto(base + "/admin")
        nav = page.get_by_role("navigation", name="管理コンソール")
        assert nav.get_by_role("link", name="監査ログ").count() == 0
        page.goto(base + "/admin/staff/new")
        assert page.locator("#role option").all_inner_texts() == ["職員"]  # no administrators from the helpdesk
        shot(page, "12-helpdesk-new-account-ja")
        status, body = post_from_page(
            page, "/admin/staff", {"login_id": "hd-admin", "display_name": "x", "department": "", "role": "admin"}
        )
        assert status == 403 and "アクセスできません" in body
        page.goto(base + "/admin/account/demo-admin")
        assert page.get_by_role("button", name="パスワードをリセット").count() == 0
        status, body = post_from_page(page, "/admin/account/demo-admin/reset-password", {})
        assert status == 403 and "アクセスできません" in body
        page.goto(base + "/admin/account/e2e-k0001")  # a staff-role account: the helpdesk may unlock and reset
        assert page.get_by_role("button", name="ワンタイムパスワードをリセット").count() == 1
        assert page.get_by_role("button", name="無効にする").count() == 0
        assert query(stack, "SELECT id FROM users WHERE id = 'hd-admin'") == []
        page.close()
    finally:
        context.close()
    context = terminal_context(browser, stack, viewport=VIEWPORT)
    try:
        page = context.new_page()
        login_as(page, stack, "it-audit", PASSWORD, secrets_of_roles["it-audit"])
        page.goto(base + "/admin/staff")
        assert page.get_by_role("link", name="アカウント作成").count() == 0
        page.goto(base + "/admin/account/e2e-k0001")
        assert page.locator("main form[method=post]").count() == 0  # no change of any kind
        status, body = post_from_page(
            page, "/admin/terminals", {"terminal_id": "T-AUD", "name": "x", "method": "pkcs12"}
        )
        assert status == 403 and "アクセスできません" in body
        assert query(stack, "SELECT id FROM terminals WHERE id = 'T-AUD'") == []
        page.goto(base + "/admin/audit")
        assert page.locator("#events tr[data-kind=console_refused]").count() >= 3  # the crafted requests above
        created = page.locator("#events tr[data-kind=user_created]").first
        assert "→" in created.inner_text()  # before → after
        check_layout(page)
        shot(page, "13-audit-log-ja")
        page.close()
    finally:
        context.close()


def test_groups_and_policies_form_and_preview(admin, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    """Every setting of the catalogue is a labelled control and a row of the preview; saving the form
    changes what was changed, and the event names only that."""
    import json

    from jiseki.demo.provision import DEMO_DEPARTMENT, DEMO_HOST_ID, DEMO_USER
    from jiseki.policy_settings import SETTINGS

    page = admin.new_page()
    page.goto(f"{stack.base_url}/admin/policies?user={DEMO_USER}&pc={DEMO_HOST_ID}")
    rows = [" ".join(text.split()) for text in page.locator("#preview tbody tr").all_inner_texts()]
    assert len(rows) == len(SETTINGS)
    assert f"切断時に画面をロック オフ 所属:{DEMO_DEPARTMENT}" in rows  # the demo's own policy
    form = page.locator(f'details[data-target="department:{DEMO_DEPARTMENT}"] form')
    form.get_by_label("無操作タイムアウト（分）").fill("45")
    check_layout(page)
    shot(page, "18-policies-ja")
    form.get_by_role("button", name="保存する").click()
    assert "保存しました" in page.inner_text("[role=status]")
    [(idle, lock)] = query(stack, "SELECT idle_minutes, lock_on_end FROM policies WHERE scope = 'department'")
    assert (idle, lock) == (45, 0)
    details = query(stack, "SELECT details FROM audit_events WHERE kind = 'policy_changed' ORDER BY id")[-1][0]
    assert json.loads(details) == {"before": {"idle_minutes": None}, "after": {"idle_minutes": 45}}
    page.close()


def test_end_a_live_session_with_a_reason(admin, staff_context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    base = stack.base_url
    viewer = staff_context.new_page()
    viewer.goto(stack.viewer_url)
    viewer.wait_for_function("() => window.jisekiStats && window.jisekiStats.state === 'connected'", timeout=30000)
    page = admin.new_page()
    page.goto(base + "/admin/sessions")
    row = page.locator("#live tr[data-session]").filter(has_text="demo")
    assert row.count() == 1
    check_layout(page)
    shot(page, "14-sessions-live-ja")
    row.get_by_role("link", name="デモ 職員の接続を終了").click()  # the button names whose session it ends
    page.get_by_label("終了の理由（職員の画面に表示されます）").fill("メンテナンスのため切断します")
    page.get_by_label("このPCに再接続できるまでの時間").select_option("10")
    check_layout(page)
    shot(page, "15-session-end-ja")
    page.get_by_role("button", name="接続を終了する").click()
    assert "接続を終了しました" in page.inner_text("[role=status]")
    # The viewer says why in words, and its automatic reconnection is refused for the same reason.
    viewer.wait_for_function("() => window.jisekiStats.endReason === 'admin'", timeout=15000)
    assert "管理者が接続を終了しました" in viewer.inner_text("#state")
    assert viewer.evaluate("window.jisekiStats.state") != "connected"
    viewer.close()
    portal = staff_context.new_page()
    portal.goto(base + "/")
    notice = portal.inner_text("[role=alert]")
    assert "メンテナンスのため切断します" in notice and "再接続できます" in notice
    shot(portal, "16-portal-notice-ja")
    portal.close()
    page.goto(base + "/admin/sessions")
    assert "メンテナンスのため切断します" in page.inner_text("#history")
    [(reason, message, by)] = query(
        stack, "SELECT end_reason, end_message, ended_by FROM sessions WHERE end_message IS NOT NULL"
    )
    assert (reason, message, by) == ("admin", "メンテナンスのため切断します", stack.credentials.admin_login_id)
    page.close()
