"""In real Chromium: only the registered terminal reaches the login page; staff log in and connect."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jiseki.demo.run import DemoStack
from jiseki.gateway.pki import CertificateAuthority, cert_pem, key_pem, write_private
from tests.conftest import expired_client_cert

from .conftest import login, needs_desktop, terminal_context

pytestmark = [pytest.mark.e2e, needs_desktop]

NOT_REGISTERED = "この端末は登録されていません"


def _refusals(stack: DemoStack) -> list[str]:
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        rows = db.execute("SELECT details FROM audit_events WHERE kind = 'device_refused'").fetchall()
    return [json.loads(r[0])["reason"] for r in rows]


def _jiseki(stack: DemoStack, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "jiseki", *args, "--config", str(stack.config_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _page_text(browser, stack: DemoStack, cert: tuple[Path, Path] | None) -> str:  # type: ignore[no-untyped-def]
    options: dict = {"ignore_https_errors": True}
    if cert is not None:
        options["client_certificates"] = [{"origin": stack.base_url, "certPath": str(cert[0]), "keyPath": str(cert[1])}]
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        try:
            page.goto(stack.base_url + "/login", timeout=15000)
        except Exception as exc:  # refused during the TLS handshake: no page at all
            return f"<refused: {exc}>"
        return page.inner_text("body")
    finally:
        context.close()


def test_only_the_registered_terminal_sees_the_login_page(browser, stack: DemoStack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    creds = stack.credentials
    assert creds is not None
    # No certificate (a personal home PC): the "not registered" page and nothing more.
    text = _page_text(browser, stack, None)
    assert NOT_REGISTERED in text and "ログインID" not in text
    # A certificate from another CA: refused at the TLS handshake (or, at most, the same page).
    rogue = CertificateAuthority(tmp_path / "rogue")
    issued = rogue.issue_client_cert("terminal", "demo-terminal", dt.timedelta(days=10))
    write_private(tmp_path / "rogue.crt", issued.cert_pem)
    write_private(tmp_path / "rogue.key", issued.key_pem)
    text = _page_text(browser, stack, (tmp_path / "rogue.crt", tmp_path / "rogue.key"))
    assert "ログインID" not in text and ("refused" in text or NOT_REGISTERED in text)
    # An expired certificate of our own CA: the page, and the attempt recorded as "expired".
    ca = CertificateAuthority(stack.gateway.data_dir / "pki")
    text = _page_text(browser, stack, expired_client_cert(ca, tmp_path, "terminal", "old")[:2])
    assert NOT_REGISTERED in text
    # A revoked terminal (registered with the CLI, then revoked with the CLI).
    out = _jiseki(stack, "terminal", "add", "t-lost", "--name", "紛失端末", "--out", str(tmp_path / "lost.p12"))
    assert "one-time import password" in out
    _jiseki(stack, "terminal", "revoke", "t-lost", "--reason", "lost on the train")
    from cryptography.hazmat.primitives.serialization import pkcs12

    password = out.split("one-time import password: ")[1].split()[0]
    key, cert, _extra = pkcs12.load_key_and_certificates((tmp_path / "lost.p12").read_bytes(), password.encode())
    assert key is not None and cert is not None
    write_private(tmp_path / "lost.crt", cert_pem(cert))
    write_private(tmp_path / "lost.key", key_pem(key))  # type: ignore[arg-type]
    text = _page_text(browser, stack, (tmp_path / "lost.crt", tmp_path / "lost.key"))
    assert NOT_REGISTERED in text
    # The registered terminal: the login page.
    text = _page_text(browser, stack, (Path(creds.terminal_cert), Path(creds.terminal_key)))
    assert "ログインID" in text and "ワンタイムパスワード" in text
    assert {"no_certificate", "expired", "revoked"} <= set(_refusals(stack))


def test_staff_logs_in_and_connects_from_my_pcs(browser, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    context = terminal_context(browser, stack, viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        page.goto(stack.base_url + "/login")
        page.fill("#login_id", "demo")
        page.fill("#password", "not-the-password")
        page.fill("#code", "000000")
        page.click("button[type=submit]")
        assert "正しくありません" in page.inner_text("[role=alert]")
        login(page, stack)
        assert "自席PC一覧" in page.inner_text("h1")
        row = page.locator("tr[data-host=demo-pc]")
        assert "デモ自席PC" in row.inner_text()
        row.get_by_role("link", name="接続").click()
        page.wait_for_url(stack.viewer_url)
        deadline = 20
        for _ in range(deadline * 10):
            if page.evaluate("window.jisekiStats && window.jisekiStats.framesDrawn > 0"):
                break
            page.wait_for_timeout(100)
        assert page.evaluate("window.jisekiStats.state") == "connected"
    finally:
        context.close()
