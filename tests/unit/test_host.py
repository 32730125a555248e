"""Host privacy and clipboard logic on the agent, with fakes for what cannot run here (Win32) and for
the commands the X11 backend runs."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from jiseki.agent.clipboard.sync import ClipboardSync
from jiseki.agent.host.base import HostState
from jiseki.agent.host.windows import WDA_EXCLUDEFROMCAPTURE, WindowsHostControl
from jiseki.agent.host.x11 import X11HostControl
from jiseki.agent.policy import AgentPolicy, parse_agent_policy


class FakeRunner:
    def __init__(self, outputs: dict[str, str] | None = None, fail: set[str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.outputs = outputs or {}
        self.fail = fail or set()

    def __call__(self, argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        code = 1 if argv[0] in self.fail else 0
        return subprocess.CompletedProcess(list(argv), code, self.outputs.get(" ".join(argv), ""), "boom")


XINPUT = """\
⎡ Virtual core pointer                    	id=2	[master pointer  (3)]
⎜   ↳ Virtual core XTEST pointer              	id=4	[slave  pointer  (2)]
⎜   ↳ Logitech USB Optical Mouse              	id=9	[slave  pointer  (2)]
⎣ Virtual core keyboard                   	id=3	[master keyboard (2)]
    ↳ Virtual core XTEST keyboard             	id=5	[slave  keyboard (3)]
    ↳ AT Translated Set 2 keyboard            	id=12	[slave  keyboard (3)]
"""


def test_x11_lock_uses_configured_command_then_known_lockers() -> None:
    runner = FakeRunner()
    assert X11HostControl(":5", ("my-locker", "--now"), runner, lambda _: "/usr/bin/x").lock()
    assert runner.calls == [["my-locker", "--now"]]
    runner = FakeRunner()
    found = {"xdg-screensaver"}
    assert X11HostControl(":5", (), runner, lambda name: name if name in found else None).lock()
    assert runner.calls == [["xdg-screensaver", "lock"]]
    assert not X11HostControl(":5", (), FakeRunner(), lambda _: None).lock()  # nothing to lock with
    assert not X11HostControl(":5", ("bad",), FakeRunner(fail={"bad"}), lambda _: "x").lock()


def test_x11_curtain_disables_physical_devices_but_not_xtest() -> None:
    runner = FakeRunner({"xinput list --short": XINPUT})
    host = X11HostControl(":5", (), runner, lambda _: "/usr/bin/x")
    assert host.set_curtain(True) == ["monitor_off", "input_blocked"]
    assert ["xinput", "disable", "9"] in runner.calls and ["xinput", "disable", "12"] in runner.calls
    assert ["xinput", "disable", "4"] not in runner.calls and ["xinput", "disable", "5"] not in runner.calls
    assert ["xset", "dpms", "force", "off"] in runner.calls
    host.set_curtain(False)
    assert ["xinput", "enable", "9"] in runner.calls and ["xinput", "enable", "12"] in runner.calls


def test_x11_state_reads_the_locker_the_platform_offers() -> None:
    def host(lock_command: tuple[str, ...], tools: set[str], running: set[str], runner: FakeRunner | None = None):  # type: ignore[no-untyped-def]
        return X11HostControl(
            ":5",
            lock_command,
            runner or FakeRunner(),
            lambda name: name if name in tools else None,
            processes=lambda: running,
            user=lambda: "yamada",
        )

    # A locker that holds the screen while its process runs (the configured i3lock of the tests).
    assert host(("i3lock", "-c", "000000"), set(), {"bash", "i3lock"}).state() == HostState("yamada", True)
    assert host(("i3lock",), set(), {"bash"}).state() == HostState("yamada", False)
    assert host((), {"i3lock"}, {"bash"}).state() == HostState("yamada", False)
    # logind knows; so does xscreensaver.
    runner = FakeRunner({"loginctl show-session 7 -p LockedHint --value": "yes\n"})
    h = host((), {"loginctl"}, set(), runner)
    h.env["XDG_SESSION_ID"] = "7"
    assert h.state().locked is True
    runner = FakeRunner({"xscreensaver-command -time": "XScreenSaver 6.06: screen locked since Fri Nov 27\n"})
    assert host((), {"xscreensaver-command"}, set(), runner).state().locked is True
    runner = FakeRunner({"xscreensaver-command -time": "XScreenSaver 6.06: screen non-blanked since Fri\n"})
    assert host((), {"xscreensaver-command"}, set(), runner).state().locked is False
    # A locker that hands the lock to another program, or nothing to lock with: cannot tell.
    assert host((), {"xdg-screensaver"}, {"bash"}).state().locked is None
    assert host((), {"xdg-screensaver"}, {"xsecurelock"}).state().locked is True
    assert host((), set(), set()).state() == HostState("yamada", None)


class FakeWin32:
    def __init__(self, affinity_ok: bool = True) -> None:
        self.affinity_ok = affinity_ok
        self.log: list[tuple] = []

    def lock_workstation(self) -> bool:
        self.log.append(("lock",))
        return True

    def block_input(self, block: bool) -> bool:
        self.log.append(("block", block))
        return True

    def create_curtain_windows(self) -> list[int]:
        self.log.append(("create",))
        return [101, 102]  # two monitors

    def set_display_affinity(self, hwnd: int, affinity: int) -> bool:
        self.log.append(("affinity", hwnd, affinity))
        return self.affinity_ok

    def show_windows(self, handles: list[int]) -> bool:
        self.log.append(("show", *handles))
        return True

    def destroy_window(self, hwnd: int) -> bool:
        self.log.append(("destroy", hwnd))
        return True

    user: tuple[str, str] | None = ("PREF", "yamada")
    locked: bool | None = False

    def session_user(self) -> tuple[str, str] | None:
        return self.user

    def session_locked(self) -> bool | None:
        return self.locked


def test_windows_curtain_is_excluded_from_capture_and_blocks_input() -> None:
    api = FakeWin32()
    host = WindowsHostControl(api)
    assert host.set_curtain(True) == ["monitor_curtained", "input_blocked"]
    # Shown only after both are excluded from capture.
    assert api.log[:4] == [
        ("create",),
        ("affinity", 101, WDA_EXCLUDEFROMCAPTURE),
        ("affinity", 102, WDA_EXCLUDEFROMCAPTURE),
        ("show", 101, 102),
    ]
    host.set_curtain(False)
    assert api.log[-3:] == [("destroy", 101), ("destroy", 102), ("block", False)]
    assert host.lock() and api.log[-1] == ("lock",)


def test_windows_state_is_the_sessions_user_and_lock() -> None:
    api = FakeWin32()
    assert WindowsHostControl(api).state() == HostState("PREF\\yamada", False)
    api.user, api.locked = ("", "sato"), True
    assert WindowsHostControl(api).state() == HostState("sato", True)
    api.user, api.locked = None, None  # nobody signed in; Windows cannot say
    assert WindowsHostControl(api).state() == HostState(None, None)


def test_windows_curtain_is_taken_down_when_capture_would_see_it() -> None:
    api = FakeWin32(affinity_ok=False)  # Windows older than 10 2004
    done = WindowsHostControl(api).set_curtain(True)
    assert "monitor_curtained" not in done
    assert ("destroy", 101) in api.log and ("destroy", 102) in api.log
    assert not [entry for entry in api.log if entry[0] == "show"]  # the desk's monitor never flashes black


def test_agent_policy_defaults_are_restrictive() -> None:
    assert parse_agent_policy(None) == AgentPolicy()
    assert parse_agent_policy({"clipboard": "everything", "view_only": "yes"}) == AgentPolicy()
    p = parse_agent_policy({"clipboard": "to_terminal", "clipboard_max_bytes": 100, "lock_on_end": False})
    assert p.clipboard_to_terminal and not p.clipboard_to_host and p.clipboard_max_bytes == 100 and not p.lock_on_end


def test_agent_policy_view_only_takes_no_terminal_clipboard() -> None:
    # An older or compromised gateway offering "both" with view-only: the agent still refuses to_host.
    p = parse_agent_policy({"clipboard": "both", "view_only": True})
    assert p.view_only and not p.clipboard_to_host and p.clipboard_to_terminal


class FakeClipboard:
    def __init__(self, text: str | None = None) -> None:
        self.text = text
        self.writes: list[str] = []

    def get_text(self) -> str | None:
        return self.text

    def set_text(self, text: str) -> None:
        self.writes.append(text)
        self.text = text

    def close(self) -> None:
        pass


def test_clipboard_sync_directions_limits_and_no_echo() -> None:
    board = FakeClipboard("was there before")
    sync = ClipboardSync(board, AgentPolicy(clipboard_to_host=True, clipboard_to_terminal=True, clipboard_max_bytes=20))
    assert sync.changed_text() is None  # what was on the clipboard before the session stays on the PC
    assert sync.from_viewer("from home")
    assert board.writes == ["from home"] and sync.changed_text() is None  # not echoed back
    board.text = "copied at the office"
    assert sync.changed_text() == "copied at the office"
    assert sync.changed_text() is None
    board.text = "x" * 21
    assert sync.changed_text() is None  # over the limit
    assert not sync.from_viewer("y" * 21)
    closed = ClipboardSync(FakeClipboard("a"), AgentPolicy())
    assert not closed.from_viewer("home") and closed.changed_text() is None


def test_clipboard_sync_refuses_the_terminal_in_view_only() -> None:
    board = FakeClipboard("office")
    sync = ClipboardSync(board, AgentPolicy(clipboard_to_host=True, clipboard_to_terminal=True, view_only=True))
    assert not sync.from_viewer("from home") and board.writes == []


class CountingClipboard(FakeClipboard):
    """A backend with a change counter (as Windows has): reads only after it moved."""

    def __init__(self, text: str | None = None) -> None:
        super().__init__(text)
        self.counter = 0
        self.reads = 0

    def get_text(self) -> str | None:
        self.reads += 1
        return self.text

    def sequence(self) -> int | None:
        return self.counter


def test_clipboard_sync_reads_only_when_the_sequence_moved() -> None:
    board = CountingClipboard("before")
    sync = ClipboardSync(board, AgentPolicy(clipboard_to_host=True, clipboard_to_terminal=True))
    board.reads = 0
    assert sync.changed_text() is None and board.reads == 1  # the first look reads
    assert sync.changed_text() is None and sync.changed_text() is None
    assert board.reads == 1  # nothing changed: nothing read
    board.text, board.counter = "copied", 1
    assert sync.changed_text() == "copied" and board.reads == 2
    assert sync.changed_text() is None and board.reads == 2
    assert sync.from_viewer("from home")
    board.counter = 2  # our own write moves the counter too: read, but not echoed
    assert sync.changed_text() is None and board.reads == 3


class FakeClipboardApi:
    def __init__(self) -> None:
        self.data: str | None = None
        self.count = 0
        self.asked: list[int] = []
        self.closed = False

    def get_unicode(self, max_units: int) -> str | None:
        self.asked.append(max_units)
        return None if self.data is None else self.data[:max_units]

    def set_unicode(self, text: str) -> bool:
        self.data = text
        self.count += 1
        return True

    def changes(self) -> int:
        return self.count

    def close(self) -> None:
        self.closed = True


def test_windows_clipboard_line_ends_limit_and_sequence() -> None:
    from jiseki.agent.clipboard.base import ChangeCounter
    from jiseki.agent.clipboard.windows import MAX_UNITS, WindowsClipboard
    from jiseki.protocol import MAX_CLIPBOARD_BYTES

    api = FakeClipboardApi()
    board = WindowsClipboard(api)
    assert isinstance(board, ChangeCounter)
    assert board.get_text() is None and board.sequence() == 0
    board.set_text("日本語\nline 2\r\nline 3")
    assert api.data == "日本語\r\nline 2\r\nline 3"  # CF_UNICODETEXT uses CRLF
    assert board.get_text() == "日本語\nline 2\nline 3" and board.sequence() == 1
    api.data = "x" * (MAX_CLIPBOARD_BYTES + 10)
    got = board.get_text()
    assert got is not None and len(got.encode()) > MAX_CLIPBOARD_BYTES  # still too big: refused, not cut
    assert api.asked[-1] == MAX_UNITS
    board.close()
    assert api.closed


def test_x11_clipboard_has_no_sequence() -> None:
    from jiseki.agent.clipboard.x11 import X11Clipboard

    assert X11Clipboard.sequence(object.__new__(X11Clipboard)) is None
