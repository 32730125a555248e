"""A recorded session played back in Chromium shows what the live viewer showed, at the end and in
the middle; an auditor logs in through first-login TOTP enrolment to watch it."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

from jiseki.demo.provision import DEMO_DEPARTMENT
from jiseki.demo.run import DemoStack
from jiseki.gateway.auth.totp import code_at
from tests.conftest import free_port

from .conftest import login, needs_desktop, terminal_context, wait_for_agent, xdotool
from .test_viewer import canvas_pixels, open_viewer, type_text, wait_until_rest

pytestmark = [pytest.mark.e2e, needs_desktop]
AUDITOR_PASSWORD = "Kansa-Tantou-2026!"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    demo = DemoStack(tmp_path_factory.mktemp("rec"), free_port(), quiet=True)
    try:
        demo.start()
        wait_for_agent(demo)
        jiseki(demo, "policy", "set", "--department", DEMO_DEPARTMENT, "--record", "yes")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jiseki",
                "admin",
                "create-user",
                "kansa1",
                "--name",
                "監査 担当",
                "--role",
                "auditor",
                "--password-stdin",
                "--config",
                str(demo.config_path),
            ],
            input=AUDITOR_PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        yield demo
    finally:
        demo.stop()


def jiseki(stack: DemoStack, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "jiseki", *args, "--config", str(stack.config_path)], check=True, capture_output=True
    )


def test_recording_plays_back_the_same_frames(browser, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    staff = terminal_context(browser, stack, viewport={"width": 1920, "height": 1200})
    page = staff.new_page()
    login(page, stack)
    page.goto(stack.viewer_url)
    for _ in range(200):
        if page.evaluate("window.jisekiStats && window.jisekiStats.framesDrawn > 0"):
            break
        time.sleep(0.1)
    wait_until_rest(page)
    page.mouse.click(300, 300)  # focus the terminal window (top left)
    type_text(page, "echo first half")
    page.keyboard.press("Enter")
    wait_until_rest(page)
    middle = canvas_pixels(page)
    middle_seq = page.evaluate("window.jisekiStats.lastSeq")
    type_text(page, "echo second half")
    page.keyboard.press("Enter")
    xdotool(stack.desktop.display, "mousemove", "10", "10")
    wait_until_rest(page)
    final = canvas_pixels(page)
    assert not np.array_equal(middle, final)
    # End the session with the viewer's own button: closing the page may drop the socket without a
    # close frame, and a broken link keeps the session (and its recording) open for the resume grace.
    page.click("#disconnect")
    for _ in range(100):
        if page.evaluate("window.jisekiStats.state") == "disconnected":
            break
        time.sleep(0.1)
    page.close()
    staff.close()

    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        for _ in range(150):
            row = db.execute("SELECT session_id, bytes, duration_ms FROM recordings").fetchone()
            if row:
                break
            time.sleep(0.2)
    assert row is not None and row[1] > 0 and row[2] > 0
    session_id = row[0]

    auditor = terminal_context(browser, stack, viewport={"width": 1920, "height": 1200})
    try:
        p = auditor.new_page()
        p.goto(stack.base_url + "/login")
        p.fill("#login_id", "kansa1")
        p.fill("#password", AUDITOR_PASSWORD)
        p.click("button[type=submit]")
        p.wait_for_url(stack.base_url + "/login/totp")
        secret = re.sub(r"\s", "", p.inner_text("#secret"))
        p.fill("#code", code_at(secret, time.time()))
        p.click("form[action='/login/totp'] button[type=submit]")  # not the header's language buttons
        p.wait_for_url(stack.base_url + "/")
        p.goto(f"{stack.base_url}/recordings/{session_id}")
        for _ in range(200):
            if p.evaluate("window.jisekiPlayer && (window.jisekiPlayer.ready || window.jisekiPlayer.error)"):
                break
            time.sleep(0.1)
        assert p.evaluate("window.jisekiPlayer.error") is None
        duration = p.evaluate("window.jisekiPlayer.duration")
        p.evaluate(f"window.jisekiPlayer.seek({duration})")
        assert np.array_equal(canvas_pixels(p, "document.getElementById('screen')"), final)
        # Back to the middle: the screen as it was when the first command had been typed.
        at = p.evaluate(f"window.jisekiPlayer.timeOfSeq({middle_seq})")
        assert at is not None
        p.evaluate(f"window.jisekiPlayer.seek({at})")
        assert np.array_equal(canvas_pixels(p, "document.getElementById('screen')"), middle)
        # Playing at 4x moves forward by itself.
        p.select_option("#speed", "4")
        p.evaluate("window.jisekiPlayer.seek(0)")
        p.click("#play")
        time.sleep(1.0)
        assert p.evaluate("window.jisekiPlayer.position") > 1500
    finally:
        auditor.close()
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        viewed = db.execute("SELECT actor FROM audit_events WHERE kind = 'recording_viewed'").fetchall()
    assert viewed == [("kansa1",)]


def test_staff_cannot_watch_recordings(browser, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        row = db.execute("SELECT session_id FROM recordings").fetchone()
    context = terminal_context(browser, stack)
    try:
        page = context.new_page()
        login(page, stack)
        response = page.goto(f"{stack.base_url}/recordings/{row[0]}/data")
        assert response is not None and response.status == 403
    finally:
        context.close()


def _auditor(browser, stack: DemoStack, login_id: str):  # type: ignore[no-untyped-def]
    """A new auditor, logged in through first-login TOTP enrolment: (context, page)."""
    subprocess.run(
        [sys.executable, "-m", "jiseki", "admin", "create-user", login_id, "--name", "監査 二", "--role", "auditor",
         "--password-stdin", "--config", str(stack.config_path)],
        input=AUDITOR_PASSWORD + "\n", text=True, check=True, capture_output=True,
    )  # fmt: skip
    context = terminal_context(browser, stack, viewport={"width": 1920, "height": 1200})
    p = context.new_page()
    p.goto(stack.base_url + "/login")
    p.fill("#login_id", login_id)
    p.fill("#password", AUDITOR_PASSWORD)
    p.click("button[type=submit]")
    p.wait_for_url(stack.base_url + "/login/totp")
    secret = re.sub(r"\s", "", p.inner_text("#secret"))
    p.fill("#code", code_at(secret, time.time()))
    p.click("form[action='/login/totp'] button[type=submit]")
    p.wait_for_url(stack.base_url + "/")
    return context, p


def test_recorded_video_plays_back_through_webcodecs(browser, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    """Video streams are recorded as relayed; the player decodes them and ends on the exact picture."""
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        before = {r[0] for r in db.execute("SELECT session_id FROM recordings")}
    staff = terminal_context(browser, stack, viewport={"width": 1920, "height": 1200})
    login(staff.new_page(), stack)
    page = open_viewer(staff, stack)
    wait_until_rest(page)
    player = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.video_window", "120", "640", "480", "270", "3"], env=stack.desktop.env()
    )
    try:
        for _ in range(200):
            if page.evaluate("window.jisekiStats.video.frames > 20"):
                break
            time.sleep(0.1)
        assert page.evaluate("window.jisekiStats.video.frames") > 20
        for _ in range(200):
            if page.evaluate("window.jisekiStats.ops.VIDEO_END > 0"):
                break
            time.sleep(0.1)
        wait_until_rest(page)
        final = canvas_pixels(page)
        page.click("#disconnect")
        for _ in range(100):
            if page.evaluate("window.jisekiStats.state") == "disconnected":
                break
            time.sleep(0.1)
    finally:
        player.terminate()
        player.wait(5)
        page.close()
        staff.close()
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        for _ in range(150):
            rows = [r[0] for r in db.execute("SELECT session_id FROM recordings") if r[0] not in before]
            if rows:
                break
            time.sleep(0.2)
    assert rows
    context, p = _auditor(browser, stack, "kansa2")
    try:
        p.goto(f"{stack.base_url}/recordings/{rows[0]}")
        for _ in range(200):
            if p.evaluate("window.jisekiPlayer && (window.jisekiPlayer.ready || window.jisekiPlayer.error)"):
                break
            time.sleep(0.1)
        assert p.evaluate("window.jisekiPlayer.error") is None
        p.evaluate(f"window.jisekiPlayer.seek({p.evaluate('window.jisekiPlayer.duration')})")
        video = p.evaluate("window.jisekiPlayer.video")
        assert video["frames"] > 20 and video["errors"] == 0, video
        assert np.array_equal(canvas_pixels(p, "document.getElementById('screen')"), final)
    finally:
        context.close()
