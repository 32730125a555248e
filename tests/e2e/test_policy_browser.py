"""Policies seen from a real Chromium and a real X desktop: clipboard directions, lock at the end."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from jiseki.demo.provision import DEMO_DEPARTMENT
from jiseki.demo.run import DemoStack
from tests.conftest import free_port

from .conftest import grab_screen, login, needs_desktop, terminal_context, wait_for_agent

pytestmark = [pytest.mark.e2e, needs_desktop]

LOCK_COLOUR = (0x1F, 0x3B, 0x5A)
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    demo = DemoStack(
        tmp_path_factory.mktemp("policy"), free_port(), quiet=True, lock_command=("i3lock", "-c", "1f3b5a")
    )
    try:
        demo.start()
        wait_for_agent(demo)
        yield demo
    finally:
        subprocess.run(["pkill", "-f", "i3lock -c 1f3b5a"], check=False)
        demo.stop()


@pytest.fixture(scope="module")
def context(browser, stack: DemoStack):  # type: ignore[no-untyped-def]
    ctx = terminal_context(browser, stack, viewport={"width": 1600, "height": 1000})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base_url)
    page = ctx.new_page()
    login(page, stack)
    page.close()
    yield ctx
    ctx.close()


def policy(stack: DemoStack, *args: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jiseki",
            "policy",
            "set",
            "--department",
            DEMO_DEPARTMENT,
            *args,
            "--config",
            str(stack.config_path),
        ],
        check=True,
        capture_output=True,
    )


def host_clipboard(stack: DemoStack) -> str:
    result = subprocess.run(
        ["xclip", "-selection", "clipboard", "-o"],
        capture_output=True,
        text=True,
        env={**os.environ, "DISPLAY": stack.desktop.display},
        check=False,
    )
    return result.stdout if result.returncode == 0 else ""


def set_host_clipboard(stack: DemoStack, text: str) -> None:
    subprocess.run(
        ["xclip", "-selection", "clipboard", "-i"],
        input=text,
        text=True,
        check=True,
        env={**os.environ, "DISPLAY": stack.desktop.display},
    )


def connect(context, stack: DemoStack):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.goto(stack.viewer_url)
    for _ in range(200):
        if page.evaluate("window.jisekiStats && window.jisekiStats.framesDrawn > 0"):
            return page
        time.sleep(0.1)
    raise AssertionError(page.evaluate("window.jisekiStats"))


def refocus(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("window.dispatchEvent(new Event('focus'))")


def test_clipboard_none_shares_nothing(context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    policy(stack, "--clipboard", "none")
    page = connect(context, stack)
    try:
        set_host_clipboard(stack, "office secret 1")
        page.evaluate("navigator.clipboard.writeText('home text 1')")
        refocus(page)
        time.sleep(2.0)
        assert page.evaluate("navigator.clipboard.readText()") == "home text 1"  # nothing came from the PC
        assert host_clipboard(stack) == "office secret 1"  # nothing reached the PC
    finally:
        page.close()


def test_clipboard_both_shares_both_ways(context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    policy(stack, "--clipboard", "both")
    page = connect(context, stack)
    try:
        page.evaluate("navigator.clipboard.writeText('home text 2')")
        refocus(page)
        for _ in range(50):
            if host_clipboard(stack) == "home text 2":
                break
            time.sleep(0.1)
        assert host_clipboard(stack) == "home text 2"
        set_host_clipboard(stack, "office text 2")
        for _ in range(50):
            if page.evaluate("navigator.clipboard.readText()") == "office text 2":
                break
            time.sleep(0.1)
        assert page.evaluate("navigator.clipboard.readText()") == "office text 2"
    finally:
        page.close()
        policy(stack, "--clipboard", "none")


def test_office_pc_is_locked_when_the_session_ends(context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    policy(stack, "--lock-on-end", "yes")
    page = connect(context, stack)
    before = grab_screen(stack.desktop.display)
    assert not (before == LOCK_COLOUR).all(axis=2).mean() > 0.5
    page.close()  # the staff member closes the viewer: the session ends
    for _ in range(100):
        screen = grab_screen(stack.desktop.display)
        if (screen == np.array(LOCK_COLOUR, dtype=np.uint8)).all(axis=2).mean() > 0.95:
            break
        time.sleep(0.1)
    locked = (grab_screen(stack.desktop.display) == np.array(LOCK_COLOUR, dtype=np.uint8)).all(axis=2).mean()
    assert locked > 0.95, f"only {locked:.1%} of the screen shows the lock screen"
    assert subprocess.run(["pgrep", "-f", "i3lock -c 1f3b5a"], capture_output=True).returncode == 0
    # The agent reports the lock: the staff member's "My PCs" shows the PC as locked (ロック中), and
    # the user signed in at the desk is the desktop's own.
    portal = context.new_page()
    try:
        for _ in range(30):
            portal.goto(stack.base_url + "/")
            if portal.locator("tr[data-state='locked']").count() == 1:
                break
            time.sleep(0.5)
        row = portal.locator("tr[data-state='locked']")
        assert row.count() == 1 and "ロック中" in row.inner_text(), portal.content()[:2000]
    finally:
        portal.close()


def _session_requests(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The new sessions the page asks for (each is a socket to /hosts/{id}/session)."""
    seen: list[str] = []
    page.on("websocket", lambda ws: seen.append(ws.url) if ws.url.endswith("/session") else None)
    return seen


def test_a_refused_connection_shows_until_when_and_does_not_retry(context, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from jiseki.gateway.policy import JST

    now = dt.datetime.now(JST)
    start, end = ((now + dt.timedelta(hours=h)).strftime("%H:00") for h in (2, 3))
    policy(stack, "--hours", f"{start}-{end}")
    page = context.new_page()
    try:
        requests = _session_requests(page)
        page.goto(stack.viewer_url)
        page.wait_for_selector("#ended:not([hidden])", timeout=10_000)
        text = page.inner_text("#ended")
        assert "この時間帯は接続できません" in text and f"{start}から再び接続できます" in text, text
        assert page.is_hidden("#ended-reconnect")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "viewer-refused-hours.png"))
        time.sleep(4)  # the old viewer tried again after 1 s, 2 s, ... for ever
        assert len(requests) == 1 and page.evaluate("window.jisekiStats.state") == "ended"
        page.click("#ended-back")
        page.wait_for_url(stack.base_url + "/")
        row = page.locator("tr[data-host]")
        assert "現在は接続できません" in row.inner_text() and row.locator("a.button").count() == 0
    finally:
        page.close()
        policy(stack, "--hours", "any")


def test_a_final_end_shows_why_and_never_reconnects(browser, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    ctx = terminal_context(browser, stack, viewport={"width": 1280, "height": 800})
    try:
        portal = ctx.new_page()
        login(portal, stack)
        page = connect(ctx, stack)
        requests = _session_requests(page)
        portal.click("form[action='/logout'] button")  # logging out in another tab of this terminal
        page.wait_for_selector("#ended:not([hidden])", timeout=5_000)
        assert "ログアウトしました" in page.inner_text("#ended-reason")
        assert page.get_attribute("#ended-back", "href") == "/login"  # the login ended: the way back is there
        page.screenshot(path=str(SHOTS / "viewer-ended-logged-out.png"))
        time.sleep(4)
        assert requests == [] and page.evaluate("window.jisekiStats.sessions") == 1
    finally:
        ctx.close()


def test_an_administrator_closes_today_and_the_staff_members_connect_is_refused(  # type: ignore[no-untyped-def]
    browser, context, stack: DemoStack
) -> None:
    """In the console: today becomes a closed day and the organisation's default refuses holidays;
    the staff member's Connect then says why, naming the day. Both are undone at the end."""
    import datetime as dt

    import jpholiday

    from jiseki.gateway.policy import JST

    from .test_console_browser import VIEWPORT, login_as

    creds = stack.credentials
    assert creds is not None
    today = dt.datetime.now(JST).date()
    national = jpholiday.is_holiday_name(today)  # a real holiday is named first
    expected = f"本日（{today.month}/{today.day}）は" + (f"祝日（{national}）" if national else "閉庁日（e2e閉庁日）")
    admin_ctx = terminal_context(browser, stack, viewport=VIEWPORT)
    admin = admin_ctx.new_page()
    viewer = context.new_page()
    org = admin.locator('section[data-target="organisation"] form')
    try:
        login_as(admin, stack, creds.admin_login_id, creds.admin_password, creds.admin_totp_secret)
        admin.goto(stack.base_url + "/admin/holidays")
        admin.get_by_label("開始日").fill(today.isoformat())
        admin.get_by_label("名称").fill("e2e閉庁日")
        admin.get_by_role("button", name="追加", exact=True).click()
        assert "保存しました" in admin.inner_text("[role=status]")
        assert "e2e閉庁日" in admin.inner_text(f'tr[data-day="{today.isoformat()}"][data-kind="closed_day"]')
        SHOTS.mkdir(parents=True, exist_ok=True)
        admin.screenshot(path=str(SHOTS / "holidays-closed-days.png"), full_page=True)
        admin.goto(stack.base_url + "/admin/policies")
        org.get_by_label("祝日・閉庁日の利用").select_option("no")
        org.get_by_role("button", name="保存する").click()
        assert "保存しました" in admin.inner_text("[role=status]")
        admin.screenshot(path=str(SHOTS / "policies-organisation-default.png"), full_page=True)

        viewer.goto(stack.viewer_url)
        viewer.wait_for_selector("#ended:not([hidden])", timeout=10_000)  # final: no retry
        text = viewer.inner_text("#ended")
        assert expected in text and "のため接続できません。" in text and "次に接続できるのは" in text, text
        viewer.screenshot(path=str(SHOTS / "viewer-refused-closed-day.png"))
        viewer.goto(stack.base_url + "/")
        assert expected in viewer.inner_text("tr[data-host]")  # My PCs says the same, without a Connect
    finally:
        viewer.close()
        # Undo both, so that the other tests of the module connect as before.
        admin.goto(stack.base_url + "/admin/policies")
        org.get_by_label("祝日・閉庁日の利用").select_option("")
        org.get_by_role("button", name="保存する").click()
        admin.goto(stack.base_url + "/admin/holidays")
        removal = admin.locator(f'tr[data-day="{today.isoformat()}"][data-kind="closed_day"] button')
        if removal.count():
            removal.click()
        admin_ctx.close()
    for sql, expected_rows in (
        ("SELECT day FROM closed_days", []),
        ("SELECT on_holidays FROM policies WHERE scope = 'organisation'", [(None,)]),
    ):
        with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
            assert db.execute(sql).fetchall() == expected_rows
