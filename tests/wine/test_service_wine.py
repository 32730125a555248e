"""The agent as a Windows service under Wine: the Service Control Manager starts it, it enrolls with
the token the installer left in the registry, appears online, and serves a session from the browser
through a worker it starts in the console session (CreateProcessAsUserW, pipes); then it stops.

Each test runs twice: under the SCM ("scm": the worker is started in console session 1 with
CreateProcessAsUserW, as on Windows) and as `jiseki agent service --console` ("console": the same
service code, the worker a plain child process). Wine 8 lets the SCM-started worker read the screen
but not inject input (its SetThreadDesktop is refused with ERROR_ACCESS_DENIED and its SendInput
reaches no window): input through the service's worker is checked in the "console" run.

What Wine cannot show is unit-tested against fakes (tests/unit/test_service_*.py): session switches
(Wine has one session and sends no WTS notifications), the Winlogon desktop (Wine has only
"Default"), SendSAS's effect, LockWorkStation and the ACL's enforcement (Wine stores the DACL but
does not enforce it)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jiseki.demo.run import DemoStack
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, login, terminal_context
from tests.e2e.keys import Keys
from tests.e2e.test_viewer import canvas_pixels, page_point, wait_for, wait_until_rest

from .harness import ROOT, WinePython, stop, windows_path
from .test_agent_wine_e2e import COLOUR_RGB, KEYBOARD_PAGE, RECT, jiseki, received, wait_for_file
from .winsvc import reg_query, remove_service, service_state, wait_service, wine_cmd

pytestmark = pytest.mark.wine

AGENT_KEY = r"HKLM\SOFTWARE\jiseki\Agent"
SERVICE = "jiseki-agent"
HOST = "win-svc"


def python_exe(wine: WinePython) -> str:
    return windows_path(wine.env_vars["PYTHON_EXE"])


def test_the_service_bindings_work_under_the_service_control_manager(wine: WinePython, tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    script = windows_path(wine.script_path("service_probe.py"))
    command = f"{python_exe(wine)} {script} {windows_path(ROOT)} {windows_path(result)} {windows_path(tmp_path)}"
    remove_service(wine, "jiseki-probe")
    code, out = wine_cmd(wine, "sc", "create", "jiseki-probe", "binPath=", command)
    assert code == 0, out
    try:
        code, out = wine_cmd(wine, "sc", "start", "jiseki-probe")
        assert code == 0, out
        seen = wait_for_file(result, "the probe service")
        # Registered and running as the SCM sees it; a missing service is named as such.
        assert seen["state"] == "running" and seen["missing"] == "not_installed"
        # Restart on failure, as the SCM stored it (5 s, 10 s, 60 s; reset after a day).
        # configure_recovery succeeded; Wine 8 cannot read failure actions back (ERROR_INVALID_LEVEL),
        # Windows can: the selftest reports them on a real PC. The structure has the x64 layout.
        assert seen["restart_delays"] in ([5000, 10000, 60000], "error 124"), seen["restart_delays"]
        assert seen["failure_actions_size"] == 40
        # A service has no interactive desktop; the worker it starts in the console session does,
        # with the screen (the Xvfb here), and talks to it over the pipes.
        assert seen["service_desktop"] is None
        assert seen["console"] == 1
        assert seen["child"] == {"read": '{"op":"stop","why":"ended"}', "desktop": "Default", "screen": [1920, 1080]}
        assert seen["child_exit"] == 0
        assert seen["events_written"] == 2  # Event Log: a warning and an error accepted
        # The folder's new DACL: SYSTEM plus the administrators, inherited by what it holds. (Wine drops
        # the "protected" flag, names BA by its own SID and keeps the file's old ACEs: the SDDL itself
        # is checked in tests/unit/test_service_parts.py; only real Windows enforces it.)
        assert "(A;OICI;FA;;;SY)" in seen["dacl"] and "BU" not in seen["dacl"], seen["dacl"]
        assert "(A;;FA;;;SY)" in seen["dacl_file"], seen["dacl_file"]
    finally:
        remove_service(wine, "jiseki-probe")
    assert service_state(wine, "jiseki-probe") == ""


@pytest.fixture(scope="module", params=["scm", "console"])
def service_pc(
    wine: WinePython, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Any]]:
    """The demo gateway and a Windows PC whose agent runs as the service, enrolled through the registry
    hand-off the MSI writes (GATEWAY_URL, ENROLL_TOKEN)."""
    mode: str = request.param
    work = tmp_path_factory.mktemp(f"winsvc-{mode}")
    stack = DemoStack(work / "demo", free_port(), quiet=True)
    data = work / "programdata"
    procs: list[subprocess.Popen[bytes]] = []
    stop_file = work / "stop"
    result = work / "target.json"
    remove_service(wine, SERVICE)
    try:
        stack.start()
        token_out = jiseki(stack, "host", "token", HOST, "--name", "財政課 PC (service)", "--hours", "1")
        token = next(word for line in token_out.splitlines() for word in line.split() if word.startswith("jsk"))
        for name, value in (("GatewayUrl", stack.base_url), ("EnrollToken", token)):
            code, out = wine_cmd(wine, "reg", "add", AGENT_KEY, "/v", name, "/d", value, "/f")
            assert code == 0, out
        procs.append(
            wine.popen(
                [windows_path(wine.script_path("target_window.py")), str(windows_path(stop_file))],
                env={"JISEKI_RESULT": windows_path(result)},
                log=work / "target.log",
            )
        )
        wait_for_file(result, "the target window")
        if mode == "scm":
            main = windows_path(wine.script_path("jiseki_main.py"))
            command = f"{python_exe(wine)} {main} {windows_path(ROOT)} agent service --data-dir {windows_path(data)}"
            code, out = wine_cmd(wine, "sc", "create", SERVICE, "binPath=", command, "start=", "auto")
            assert code == 0, out
            code, out = wine_cmd(wine, "sc", "start", SERVICE)
            assert code == 0, out
            wait_service(wine, SERVICE, "RUNNING")
        else:
            args = ["-m", "jiseki", "agent", "service", "--console", "--data-dir", windows_path(data)]
            procs.append(wine.popen(args, log=work / "console.log"))
        deadline = time.monotonic() + 90
        log = stack.data_dir / "processes.log"
        while f"agent {HOST} online" not in log.read_text(errors="replace"):
            service_log = data / "logs" / "service.log"
            text = service_log.read_text(errors="replace")[-3000:] if service_log.exists() else "(no log)"
            assert time.monotonic() < deadline, text
            time.sleep(0.3)
        creds = stack.credentials
        assert creds is not None
        jiseki(stack, "admin", "assign", creds.login_id, HOST)  # the PC exists once it enrolled
        yield {"stack": stack, "result": result, "data": data, "work": work, "mode": mode, "procs": procs}
    finally:
        remove_service(wine, SERVICE)
        wine_cmd(wine, "reg", "delete", AGENT_KEY, "/f")
        stop_file.touch()
        for proc in reversed(procs):
            stop(proc)
        stack.stop()
        for name in ("service.log", "worker.log"):
            path = data / "logs" / name
            if path.exists():
                print(f"--- {name}\n" + path.read_text(errors="replace")[-3000:])


def test_the_service_enrolls_from_the_registry_and_reports_how_it_runs(
    wine: WinePython, service_pc: dict[str, Any]
) -> None:
    data: Path = service_pc["data"]
    stack: DemoStack = service_pc["stack"]
    assert (data / "agent" / "agent.key").exists() and (data / "agent" / "agent.crt").exists()
    # The one-time token is gone from the registry once used; the gateway's address stays.
    assert reg_query(wine, AGENT_KEY, "EnrollToken") is None
    assert stack.base_url in (reg_query(wine, AGENT_KEY, "GatewayUrl") or "")
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        row = db.execute("SELECT agent_service, os, online FROM hosts WHERE id = ?", (HOST,)).fetchone()
    assert row[0] == "windows-service" and row[1].startswith("Windows") and row[2], row
    # Services may send Ctrl+Alt+Del (SendSAS): set where no policy had decided.
    sas = reg_query(wine, r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System", "SoftwareSASGeneration")
    assert sas is not None and sas.split()[-1] in ("0x1", "1"), sas
    service_log = (data / "logs" / "service.log").read_text(encoding="utf-8")
    assert "enrolled as" in service_log and "jiseki agent service started" in service_log
    assert "jsk" not in service_log  # the token itself is never logged


def test_a_session_through_the_service_and_its_worker(wine: WinePython, service_pc: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    stack: DemoStack = service_pc["stack"]
    result: Path = service_pc["result"]
    data: Path = service_pc["data"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = terminal_context(browser, stack)
        page = context.new_page()
        login(page, stack)
        page.set_viewport_size({"width": 1920, "height": 1200})
        page.goto(f"{stack.base_url}/view/{HOST}")
        wait_for(page, "window.jisekiStats && window.jisekiStats.state === 'connected'", 60)
        wait_for(page, "window.jisekiStats.framesDrawn > 0", 40)
        wait_until_rest(page, quiet=1.5, timeout=40)
        x, y, w, h = RECT
        window = canvas_pixels(page)[y + 2 : y + h - 2, x + 2 : x + w - 2]
        assert (window == np.array(COLOUR_RGB, dtype=np.uint8)).all(axis=2).mean() > 0.999
        if service_pc["mode"] == "console":  # see the module's docstring
            keys = Keys(context, page)
            page.mouse.click(*page_point(page, x + 50, y + 50))  # focuses the viewer too
            keys.tap("KeyQ", "q", 81)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                got = received(result)
                downs = [k[0] - KEYBOARD_PAGE for k in got["keys"] if k[1]]
                if 0x14 in downs and got["clicks"]:
                    break
                time.sleep(0.2)
            assert 0x14 in downs and [c[:2] for c in got["clicks"]][:1] == [[x + 50, y + 50]], got
        context.close()
        browser.close()
    text = (data / "logs" / "service.log").read_text(encoding="utf-8")
    assert "started in session 1" in text, text[-2000:]
    # The worker that served it was the spare, started (and its modules loaded) before the offer.
    assert "spare worker" in text and "serves the session in session 1" in text, text[-2000:]
    assert "session" in (data / "logs" / "worker.log").read_text(encoding="utf-8")
    with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
        capture = db.execute("SELECT capture_method FROM hosts WHERE id = ?", (HOST,)).fetchone()[0]
    assert capture == "gdi"  # reported by the worker, passed on by the service


def test_the_selftest_reports_the_installed_service(wine: WinePython, service_pc: dict[str, Any]) -> None:
    if service_pc["mode"] != "scm":
        pytest.skip("the service check is about the service the SCM runs")
    out = service_pc["work"] / "selftest.json"
    skip = [a for name in ("capture", "picture", "input", "clipboard", "curtain", "gateway") for a in ("--skip", name)]
    done = wine.run_module(["jiseki", "agent", "selftest", "--json", "--output", windows_path(out), *skip])
    report = json.loads(out.read_text(encoding="utf-8"))
    service = next(c for c in report["checks"] if c["name"] == "service")
    assert service["status"] == "pass", (service, done.stdout[-2000:])
    assert service["figures"]["state"] == "running" and service["figures"]["input_desktop"] == "Default"


def test_stopping_the_service_takes_the_pc_offline(wine: WinePython, service_pc: dict[str, Any]) -> None:
    stack: DemoStack = service_pc["stack"]
    if service_pc["mode"] == "scm":
        code, out = wine_cmd(wine, "sc", "stop", SERVICE)
        assert code == 0, out
        wait_service(wine, SERVICE, "STOPPED")
    else:
        stop(service_pc["procs"][-1])  # Ctrl+C / SIGTERM of the console run
    deadline = time.monotonic() + 30
    while True:
        with sqlite3.connect(stack.gateway.data_dir / "jiseki.db") as db:
            online = db.execute("SELECT online FROM hosts WHERE id = ?", (HOST,)).fetchone()[0]
        if not online:
            break
        assert time.monotonic() < deadline, "still online after the service stopped"
        time.sleep(0.3)
    if service_pc["mode"] == "scm":  # a killed console run has no last word
        text = (service_pc["data"] / "logs" / "service.log").read_text("utf-8")
        # The viewer had left, but the session was held for its return: the stop ended it, cleanly.
        assert "ended (exit code 0)" in text and "jiseki agent service stopped" in text, text[-2000:]
