"""The service's pure parts: the lines between service and worker (hostile input fuzzed), the input
desktop follower against a fake of the Win32 desktop calls (Wine has only "Default"), and the
installer hand-off's decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiseki.agent.service import handoff, link
from jiseki.agent.service.desktop import DesktopFollower, FollowingCapture, FollowingInput
from jiseki.protocol import ProtocolError
from jiseki.protocol.control import Offer

OFFER = Offer("a" * 32, "T" * 40, "/sessions/" + "a" * 32 + "/agent", "https://gw2.example:8443", {"curtain": True})


# ---- link ---------------------------------------------------------------------------------------


def test_each_line_reads_back_as_sent() -> None:
    for message in (link.StartOffer(OFFER), link.StopSession("replaced"), link.StopSession("ended")):
        line = link.encode(message)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert link.parse_to_worker(line) == message
    for reply in (
        link.CaptureInfo("gdi", "DuplicateOutput: E_NOTIMPL"),
        link.DesktopSwitched("Winlogon"),
        link.SecureAttention(),
        link.LockRequest(),
    ):
        assert link.parse_from_worker(link.encode(reply)) == reply


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"not json\n",
        b"[]\n",
        b'{"op": 1}\n',
        b'{"op": "offer", "offer": {"type": "offer", "session": "x", "ticket": "y"}}\n',
        b'{"op": "stop", "why": "because"}\n',
        b'{"op": "capture", "method": "GDI <b>"}\n',
        b'{"op": "desktop", "name": "Win\\nlogon"}\n',
        b'{"op": "launch", "cmd": "calc"}\n',
        b'{"op": "sas"' + b" " * link.MAX_LINE + b"}\n",
    ],
)
def test_bad_lines_are_refused_with_a_reason(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        link.parse_from_worker(line) if b"desktop" in line or b"capture" in line else link.parse_to_worker(line)


@given(
    st.binary(max_size=300)
    | st.dictionaries(st.text(max_size=8), st.text(max_size=20)).map(lambda d: json.dumps(d).encode())
)
def test_anything_a_worker_writes_is_a_message_or_a_protocol_error(line: bytes) -> None:
    for parse in (link.parse_from_worker, link.parse_to_worker):
        try:
            parse(line)
        except ProtocolError:
            pass


# ---- desktop following --------------------------------------------------------------------------


class Desktops:
    """Windows' desktops as the worker sees them: the input desktop switches when the PC locks, a
    thread moves with SetThreadDesktop, and a thread that owns a window cannot move."""

    def __init__(self) -> None:
        self.input = "Default"
        self.handles = 0
        self.open: set[int] = set()
        self.stuck = False
        self.openable = True

    def open_input(self) -> tuple[int, str] | None:
        if not self.openable:
            return None
        self.handles += 1
        self.open.add(self.handles)
        return self.handles, self.input

    def set_thread(self, handle: int) -> bool:
        return not self.stuck

    def close(self, handle: int) -> None:
        self.open.remove(handle)


class Screen:
    """A capture whose picture is the desktop it was opened on."""

    opened: ClassVar[list[str]] = []

    def __init__(self, desktops: Desktops) -> None:
        self.desktop = desktops.input
        self.width, self.height, self.method = 4, 2, "gdi"
        self.closed = False
        Screen.opened.append(self.desktop)

    def grab(self, area: Any = None) -> np.ndarray:
        assert not self.closed
        return np.full((2, 4, 4), 1 if self.desktop == "Winlogon" else 0, dtype=np.uint8)

    def close(self) -> None:
        self.closed = True


def test_the_capture_follows_the_lock_screen_and_back() -> None:
    desktops = Desktops()
    switched: list[str] = []
    follower = DesktopFollower(desktops, on_switch=switched.append)
    Screen.opened = []
    capture = FollowingCapture(lambda: Screen(desktops), follower)  # type: ignore[arg-type,return-value]
    assert capture.grab()[0, 0, 0] == 0 and Screen.opened == ["Default"]
    desktops.input = "Winlogon"  # Windows+L, or the UAC prompt's secure desktop
    assert capture.grab()[0, 0, 0] == 1 and Screen.opened == ["Default", "Winlogon"]
    assert switched == ["Winlogon"]
    assert capture.grab()[0, 0, 0] == 1 and Screen.opened == ["Default", "Winlogon"]  # no re-open while it stays
    desktops.input = "Default"  # unlocked
    assert capture.grab()[0, 0, 0] == 0 and switched == ["Winlogon", "Default"]
    capture.close()
    assert len(desktops.open) == 1  # only the desktop the thread is on is held


def test_a_desktop_that_cannot_be_entered_leaves_the_thread_where_it_was() -> None:
    desktops = Desktops()
    follower = DesktopFollower(desktops)
    follower.follow()
    desktops.input, desktops.stuck = "Winlogon", True
    assert follower.follow() is False and follower.current() == "Default"
    desktops.openable = False  # e.g. not LocalSystem: the secure desktop cannot even be opened
    assert follower.follow() is False and follower.current() == "Default"
    assert len(desktops.open) == 1


def test_input_moves_to_the_input_desktop_before_each_injection() -> None:
    desktops = Desktops()
    follower = DesktopFollower(desktops)
    calls: list[tuple[str, str | None]] = []

    class Sink:
        def key(self, usage: int, down: bool) -> None:
            calls.append(("key", follower.current()))

        def pointer(self, x: int, y: int, buttons: int) -> None:
            calls.append(("pointer", follower.current()))

    sink = FollowingInput(Sink(), follower)  # type: ignore[arg-type]
    sink.key(4, True)
    desktops.input = "Winlogon"
    sink.pointer(1, 1, 0)
    sink.key(4, False)
    assert calls == [("key", "Default"), ("pointer", "Winlogon"), ("key", "Winlogon")]


# ---- installer hand-off -------------------------------------------------------------------------

GW = "https://gateway.pref.example"


@pytest.mark.parametrize(
    ("handed", "enrolled", "step"),
    [
        (handoff.Handed(GW, "jsk1.token"), False, handoff.Step.ENROLL),  # first install
        (handoff.Handed(GW, "jsk1.token"), True, handoff.Step.ENROLL),  # re-install with a new token
        (handoff.Handed(GW, ""), True, handoff.Step.RUN),  # upgrade: the enrollment is kept
        (handoff.Handed("", ""), True, handoff.Step.RUN),  # enrolled by hand
        (handoff.Handed(GW, ""), False, handoff.Step.WAIT),  # no token yet
        (handoff.Handed("http://gateway", "jsk1.token"), False, handoff.Step.WAIT),  # not https
        (handoff.Handed("https://gw/path?x=1", "jsk1.token"), True, handoff.Step.RUN),
    ],
)
def test_what_the_service_does_with_what_the_installer_left(
    handed: handoff.Handed, enrolled: bool, step: handoff.Step
) -> None:
    assert handoff.next_step(handed, enrolled) is step


def test_the_administrator_is_told_what_to_do() -> None:
    assert "GATEWAY_URL" in handoff.why_waiting(handoff.Handed("ftp://x", "t"))
    assert "ENROLL_TOKEN" in handoff.why_waiting(handoff.Handed(GW, ""))


# ---- the secrets folder's DACL -------------------------------------------------------------------


def test_the_secrets_dacl_is_protected_and_names_only_system_and_administrators() -> None:
    """What `restrict_to_admins` applies (Wine stores but does not enforce it: checked here as text)."""
    import re

    from jiseki.agent.win32.acl import SECRETS_SDDL

    assert SECRETS_SDDL.startswith("D:P(")  # protected: nothing inherited from ProgramData
    aces = re.findall(r"\(([^)]*)\)", SECRETS_SDDL)
    parsed = [ace.split(";") for ace in aces]
    assert [(kind, flags, rights, sid) for kind, flags, rights, _o, _i, sid in parsed] == [
        ("A", "OICI", "FA", "SY"),  # LocalSystem: the service
        ("A", "OICI", "FA", "BA"),  # Administrators: IT staff
    ]


def test_the_service_configuration_is_agent_toml_plus_what_the_registry_hands_over(tmp_path: Path) -> None:
    """What the service runs with, and what the selftest on an installed PC checks against."""
    from jiseki.agent.service.main import ServicePaths, agent_config, worker_argv

    paths = ServicePaths(tmp_path / "jiseki")
    paths.root.mkdir()
    handed = handoff.Handed(GW, "", "http://proxy.pref.example:8080")
    assert paths.config_file(None) is None
    plain = agent_config(paths, handed)
    assert (plain.gateway_url, plain.proxy_url, plain.cert_dir) == (GW, handed.proxy_url, paths.cert_dir)
    paths.config.write_text('[agent]\nmax_fps = 12\ngateway_url = "https://old.example"\n', "utf-8")
    tuned = agent_config(paths, handed)
    assert (tuned.max_fps, tuned.gateway_url) == (12, GW)  # the registry's gateway wins over the file's
    argv = worker_argv(None, paths, tuned)
    assert argv[argv.index("--config") + 1] == str(paths.config)  # the worker reads the same file
    assert argv[-4:] == ["--gateway-url", GW, "--proxy-url", handed.proxy_url]
