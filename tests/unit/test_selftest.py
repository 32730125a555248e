"""`jiseki agent selftest`'s logic with fake backends: a fake screen that the fake probe window paints
and the fake capture reads, an input that delivers to the probe, a clipboard and a host control,
each able to misbehave the way a real PC can."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from jiseki.agent.host.base import HostState
from jiseki.agent.selftest import capture_checks, desk, host_checks, input_check
from jiseki.agent.selftest.checks import CHECK_ORDER, CheckResult, Note, Status, exit_status
from jiseki.agent.selftest.desk import PROBE_COLOURS
from jiseki.agent.selftest.gateway_check import check_gateway
from jiseki.agent.selftest.input_check import key_sequence
from jiseki.agent.selftest.report import render_json, render_lines
from jiseki.agent.selftest.run import SelftestOptions, run_selftest
from jiseki.agent.selftest.service_check import check_service
from jiseki.agent.selftest.window import Click, KeyEvent
from jiseki.agent.selftest.x11_window import evdev_to_usage
from jiseki.cli import main
from jiseki.config import AgentConfig
from jiseki.protocol import Monitor, Rect
from jiseki.protocol.keycodes import dom_code_to_usage
from tests.conftest import free_port

W, H = 640, 480
USAGE = dom_code_to_usage()


class Screen:
    def __init__(self) -> None:
        self.pixels = np.zeros((H, W, 4), dtype=np.uint8)
        self.damaged: list[Rect] = []

    def paint(self, rect: Rect, bgr: tuple[int, int, int]) -> None:
        self.pixels[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w, :3] = bgr
        self.damaged.append(rect)


class FakeCapture:
    method = "fake"
    width, height = W, H

    def __init__(self, screen: Screen, swap_red_blue: bool = False) -> None:
        self.screen = screen
        self.swap = swap_red_blue  # a capture that reads RGB as BGR
        self.closed = False

    def grab(self, area: Rect | None = None) -> np.ndarray:
        frame = self.screen.pixels.copy()
        return frame[:, :, [2, 1, 0, 3]] if self.swap else frame

    def monitors(self) -> list[Monitor]:
        return [Monitor(0, 0, W, H)]

    def damage(self) -> list[Rect] | None:
        out, self.screen.damaged = self.screen.damaged, []
        return out

    def moves(self) -> list[object]:
        return []

    def close(self) -> None:
        self.closed = True


class FakeProbe:
    def __init__(self, screen: Screen, rect: Rect) -> None:
        self.screen = screen
        self.rect = rect
        self.inbox: list[KeyEvent] = []
        self.clicked: list[Click] = []
        self.closed = False

    def fill(self, bgr: tuple[int, int, int]) -> None:
        self.screen.paint(self.rect, bgr)

    def focus(self) -> bool:
        return True

    def keys(self) -> list[KeyEvent]:
        out, self.inbox = self.inbox, []
        return out

    def clicks(self) -> list[Click]:
        out, self.clicked = self.clicked, []
        return out

    def text(self) -> str:
        return ""

    def close(self) -> None:
        self.closed = True


class FakeInput:
    def __init__(self, probe: Callable[[], FakeProbe], drop: int | None = None, offset: int = 0) -> None:
        self.probe = probe
        self.drop = drop  # a usage this "layout" never delivers
        self.offset = offset  # a pointer that lands this many pixels off (unscaled DPI)
        self.buttons = 0

    def key(self, usage: int, down: bool) -> None:
        if usage != self.drop:
            self.probe().inbox.append(KeyEvent(usage, down, 0))

    def pointer(self, x: int, y: int, buttons: int) -> None:
        if buttons & 1 and not self.buttons & 1:
            self.probe().clicked.append(Click(x + self.offset, y + self.offset, 1))
        self.buttons = buttons

    def release_all(self) -> None:
        self.buttons = 0

    def close(self) -> None:
        pass


class FakeClipboard:
    def __init__(self, text: str | None = "previous", mangle: bool = False) -> None:
        self.value = text
        self.mangle = mangle  # a clipboard that loses non-ASCII text
        self.closed = False

    def get_text(self) -> str | None:
        return self.value

    def set_text(self, text: str) -> None:
        self.value = text.encode("ascii", "replace").decode() if self.mangle else text

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeHost:
    screen: Screen
    reports: tuple[str, ...] = ("monitor_curtained", "input_blocked")
    captured: bool = False  # a curtain the capture sees too (no capture exclusion)
    locks: bool = True
    after_lock: bool | None = True  # what the state says once locked (None: cannot tell)
    calls: list[bool] = field(default_factory=list)
    locked: bool | None = False

    def state(self) -> HostState:
        return HostState("me", self.locked)

    def lock(self) -> bool:
        if self.locks:
            self.locked = self.after_lock
        return self.locks

    def set_curtain(self, on: bool) -> list[str]:
        self.calls.append(on)
        if on and self.captured:
            self.screen.paint(Rect(0, 0, W, H), (0, 0, 0))
        return list(self.reports) if on else ["released"]


@dataclass
class FakeBackends:
    platform: str
    make_capture: Callable[[], FakeCapture]
    make_input: Callable[[], FakeInput]
    host: FakeHost
    make_clipboard: Callable[[], FakeClipboard]
    make_probe_window: Callable[[Rect], FakeProbe]
    probes: list[FakeProbe] = field(default_factory=list)
    clipboard: FakeClipboard = field(default_factory=FakeClipboard)
    service_facts: Callable[[], dict[str, object]] | None = None


RUNNING_SERVICE: dict[str, object] = {
    "name": "jiseki-agent",
    "state": "running",
    "restart_delays": [5000, 10000, 60000],
    "input_desktop": "Default",
    "folder": "C:\\ProgramData\\jiseki",
    "folder_acl": "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)",
}


def backends(
    platform: str = "windows",
    swap: bool = False,
    drop: int | None = None,
    offset: int = 0,
    clipboard: FakeClipboard | None = None,
    **host: object,
) -> FakeBackends:
    screen = Screen()
    probes: list[FakeProbe] = []

    def probe(rect: Rect) -> FakeProbe:
        probes.append(FakeProbe(screen, rect))
        return probes[-1]

    clip = clipboard or FakeClipboard()
    return FakeBackends(
        platform,
        lambda: FakeCapture(screen, swap),
        lambda: FakeInput(lambda: probes[0], drop, offset),
        FakeHost(screen, **host),  # type: ignore[arg-type]
        lambda: clip,
        probe,
        probes,
        clip,
        (lambda: dict(RUNNING_SERVICE)) if platform == "windows" else None,
    )


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes answer at once: no waiting for a compositor, a curtain or events in flight."""
    monkeypatch.setattr(host_checks, "CURTAIN_SETTLE", 0)
    monkeypatch.setattr(host_checks, "CLIPBOARD_TIMEOUT", 0.05)
    monkeypatch.setattr(input_check, "ARRIVAL_TIMEOUT", 0.05)
    monkeypatch.setattr(desk, "SHOW_TIMEOUT", 0.05)
    monkeypatch.setattr(capture_checks, "DAMAGE_TIMEOUT", 0.05)


def run(b: FakeBackends, *skip: str, lock: bool = False) -> dict[str, CheckResult]:
    options = SelftestOptions(skip=frozenset({"gateway", *skip}), lock=lock, seconds=0.1)
    results = run_selftest(b, AgentConfig(), options)  # type: ignore[arg-type]
    assert [r.name_key for r in results] == list(CHECK_ORDER)
    return {r.name_key: r for r in results}


def english(result: CheckResult) -> str:
    return "\n".join(render_lines([result], "test"))


def test_a_pc_that_does_everything_right_passes_and_exits_0() -> None:
    b = backends()
    results = run(b)
    assert {k: r.status for k, r in results.items()} == {
        "capture": Status.PASS,
        "picture": Status.PASS,
        "input": Status.PASS,
        "clipboard": Status.PASS,
        "curtain": Status.PASS,
        "gateway": Status.SKIP,
        "service": Status.PASS,
        "lock": Status.SKIP,
    }
    assert results["capture"].figures["method"] == "fake"
    assert results["capture"].figures["damage_seen"] is True
    assert results["capture"].figures["moves_seen"] is False  # a note, not a failure
    assert exit_status(list(results.values())) == 0
    assert b.clipboard.value == "previous"  # put back
    assert b.host.calls == [True, False]  # curtain released
    assert b.probes[0].closed


def test_a_capture_that_misses_the_probe_colour_fails_the_picture() -> None:
    results = run(backends(swap=True))
    picture = results["picture"]
    assert picture.status is Status.FAIL
    b, g, r = PROBE_COLOURS[0]
    assert f"#{r:02X}{g:02X}{b:02X} not seen exactly: 64000 of 64000 pixels differ (one is #{b:02X}{g:02X}{r:02X})" in (
        english(picture)
    )
    assert exit_status(list(results.values())) == 1


def test_an_input_that_drops_a_key_fails_naming_the_key() -> None:
    results = run(backends(drop=USAGE["IntlYen"]))
    assert results["input"].status is Status.FAIL
    assert "keys that did not arrive: IntlYen↓, IntlYen↑" in english(results["input"])
    assert results["picture"].status is Status.PASS


def test_a_pointer_off_by_some_pixels_fails_with_the_positions() -> None:
    results = run(backends(offset=2))
    assert results["input"].status is Status.FAIL
    text = english(results["input"])
    assert "click at (320, 240) arrived at (322, 242)" in text  # the middle of the 320x200 probe at (160, 140)


def test_the_key_sequence_has_letters_shift_enter_and_the_jis_keys() -> None:
    downs = [u for u, down in key_sequence() if down]
    for code in ("KeyJ", "ShiftLeft", "KeyA", "Enter", "IntlYen", "Convert"):
        assert USAGE[code] in downs
    assert sum(down for _u, down in key_sequence()) * 2 == len(key_sequence())  # every key released


def test_a_curtain_that_hides_the_probe_from_the_capture_fails_and_is_released() -> None:
    b = backends(captured=True)
    curtain = run(b)["curtain"]
    assert curtain.status is Status.FAIL
    assert "the remote user would see it black" in english(curtain)
    assert b.host.calls == [True, False]


def test_no_curtain_fails_on_windows_and_is_a_skip_on_x11() -> None:
    on_windows = run(backends("windows", reports=()))["curtain"]
    assert on_windows.status is Status.FAIL
    assert "Windows 10 version 2004" in english(on_windows)
    on_x11 = run(backends("x11", reports=("monitor_off",)))
    assert on_x11["curtain"].status is Status.SKIP
    assert "the host control reported: monitor_off" in english(on_x11["curtain"])
    assert exit_status(list(on_x11.values())) == 0


def test_a_clipboard_that_loses_japanese_fails_and_is_restored() -> None:
    b = backends(clipboard=FakeClipboard("before", mangle=True))
    clipboard = run(b)["clipboard"]
    assert clipboard.status is Status.FAIL
    assert "read back: '??" in english(clipboard)
    assert b.clipboard.value == "before"
    assert b.clipboard.closed  # its listener (Windows) does not outlive the check


def test_ctrl_c_in_the_middle_restores_the_clipboard_and_the_curtain(monkeypatch: pytest.MonkeyPatch) -> None:
    clip = FakeClipboard("mine")

    def interrupted(clipboard: object, want: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(host_checks, "_read_until", interrupted)
    with pytest.raises(KeyboardInterrupt):
        host_checks.check_clipboard(lambda: clip)
    assert clip.value == "mine"

    b = backends()

    def stopped(*_a: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(host_checks, "look", stopped)
    with pytest.raises(KeyboardInterrupt):
        run(b, "capture", "picture", "input", "clipboard")
    assert b.host.calls == [True, False]
    assert b.probes[0].closed  # the probe window too


def test_the_lock_runs_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "--lock" in english(run(backends())["lock"])
    assert run(backends(), lock=True)["lock"].status is Status.PASS
    monkeypatch.setattr(host_checks, "LOCK_TIMEOUT", 0.2)
    assert run(backends(after_lock=False), lock=True)["lock"].status is Status.FAIL
    cannot_tell = run(backends(after_lock=None), lock=True)["lock"]
    assert cannot_tell.status is Status.WARN and "cannot tell" in english(cannot_tell)
    failing = run(backends(locks=False), lock=True)["lock"]
    assert failing.status is Status.FAIL and "agent.lock_command" in english(failing)


def test_a_broken_backend_is_a_failure_of_its_checks_not_a_crash() -> None:
    b = backends()

    def broken() -> FakeCapture:
        raise OSError("DXGI: access lost")

    b.make_capture = broken
    results = run(b)
    assert results["capture"].status is Status.FAIL
    assert "OSError: DXGI: access lost" in english(results["capture"])
    assert results["picture"].status is Status.FAIL
    assert results["input"].status is Status.PASS  # needs the probe window only
    assert results["clipboard"].status is Status.PASS


def test_skips_and_warnings_do_not_fail_the_exit_status() -> None:
    note = Note("x")
    assert exit_status([CheckResult("capture", Status.SKIP, note), CheckResult("picture", Status.WARN, note)]) == 0
    assert exit_status([CheckResult("capture", Status.PASS, note), CheckResult("picture", Status.FAIL, note)]) == 1
    assert exit_status([]) == 0


_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_every_line_is_japanese_then_english() -> None:
    results = list(run(backends(drop=USAGE["Convert"])).values())
    lines = render_lines(results, "windows")
    assert len(lines) > len(results) + 2  # the header, a line per check, notes, the summary
    for line in lines:
        ja, en = _JAPANESE.search(line), re.search(r"[A-Za-z]{3,}", line.split(" / ")[-1])
        assert ja is not None and en is not None, line
        assert line.index(ja.group()) < line.rindex(" / "), line  # Japanese first
    assert lines[1].startswith("[合格 PASS] 画面取得 / Screen capture: fake、毎秒")
    assert "[不合格 FAIL] キーボードとマウス / Keyboard and mouse:" in "\n".join(lines)
    assert lines[-1] == "結果: 合格 5、要確認 0、不合格 1、省略 2 / Result: 5 passed, 0 to check, 1 failed, 2 skipped"


def test_json_output_for_automation() -> None:
    results = list(run(backends(drop=USAGE["Convert"])).values())
    doc = json.loads(render_json(results, "windows"))
    assert doc["platform"] == "windows" and doc["exit_status"] == 1
    assert [c["name"] for c in doc["checks"]] == list(CHECK_ORDER)
    by_name = {c["name"]: c for c in doc["checks"]}
    assert set(by_name["input"]) == {"name", "status", "detail", "notes", "figures"}
    assert by_name["input"]["status"] == "fail"
    assert "Convert↓" in by_name["input"]["figures"]["keys_sent"]
    assert "Convert↓" not in by_name["input"]["figures"]["keys_received"]
    assert by_name["input"]["notes"][0] == {
        "ja": "届かなかったキー: Convert↓, Convert↑",
        "en": "keys that did not arrive: Convert↓, Convert↑",
    }
    assert by_name["gateway"]["status"] == "skip"
    assert isinstance(by_name["capture"]["figures"]["frames_per_second"], float)


def test_gateway_without_certificates_says_to_enroll_first(tmp_path: Path) -> None:
    result = check_gateway(AgentConfig(cert_dir=tmp_path / "none"))
    assert result.status is Status.FAIL
    assert "agent.key: run `jiseki agent enroll` first" in english(result)


def _enrolled(tmp_path: Path, days: int) -> Path:
    from jiseki.gateway.pki import CertificateAuthority, write_private

    ca = CertificateAuthority(tmp_path / "pki")
    issued = ca.issue_client_cert("agent", "pc-1", dt.timedelta(days=days))
    out = tmp_path / "certs"
    write_private(out / "agent.crt", issued.cert_pem)
    write_private(out / "agent.key", issued.key_pem)
    write_private(out / "ca.crt", ca.root_cert_path.read_bytes())
    return out


def test_gateway_unreachable_and_expired_certificates_fail(tmp_path: Path) -> None:
    certs = _enrolled(tmp_path, 90)
    closed = check_gateway(AgentConfig(gateway_url=f"https://127.0.0.1:{free_port()}", cert_dir=certs))
    assert closed.status is Status.FAIL
    assert "cannot reach 127.0.0.1:" in english(closed) and "ConnectionRefusedError" in english(closed)
    assert closed.figures["agent_cert_days_left"] in (89, 90)

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=100)
    expired = check_gateway(AgentConfig(cert_dir=certs), now=later)
    assert expired.status is Status.FAIL
    assert "the agent certificate expired on" in english(expired)


def test_x11_keycodes_map_back_to_the_usages_injected() -> None:
    table = evdev_to_usage()
    assert table[124] == USAGE["IntlYen"] and table[92] == USAGE["Convert"] and table[42] == USAGE["ShiftLeft"]
    assert table[43] == USAGE["Backslash"]  # shared with the ISO #~ key: the lower usage wins


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--skip", "screen"], "argument --skip: invalid choice: 'screen'"),
        (["--seconds", "0"], "must be between 0.1 and 60 seconds, not 0"),
        (["--seconds", "two"], "not a number of seconds: 'two'"),
    ],
)
def test_bad_options_are_refused_clearly(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["agent", "selftest", *argv])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_the_command_offers_every_check_to_skip() -> None:
    from jiseki.cli import selftest as cli_selftest

    assert cli_selftest.CHECKS == CHECK_ORDER  # kept apart so that building the parser loads no catalogue


@pytest.mark.parametrize(
    ("facts", "status", "says"),
    [
        ({}, Status.PASS, "jiseki-agent is running; input desktop: Default"),
        ({"input_desktop": "Winlogon"}, Status.PASS, "input desktop: Winlogon"),  # at the lock screen
        ({"state": "not_installed"}, Status.WARN, "not installed as a service"),
        ({"state": "stopped"}, Status.FAIL, "installed but stopped"),
        ({"restart_delays": []}, Status.WARN, "no restart on failure"),
        ({"folder_acl": "D:(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)"}, Status.WARN, "readable by ordinary users"),
        ({"input_desktop": None}, Status.WARN, "cannot be opened"),
    ],
)
def test_the_service_check(facts: dict[str, object], status: Status, says: str) -> None:
    result = check_service(lambda: {**RUNNING_SERVICE, **facts})
    assert result.status is status
    assert says in english(result)
    assert result.figures["state"] == {**RUNNING_SERVICE, **facts}["state"]  # in --json too


def test_the_service_check_is_a_skip_where_there_is_no_windows_service() -> None:
    results = run(backends("x11"))
    assert results["service"].status is Status.SKIP
