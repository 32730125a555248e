"""The X11 input backend on a real Xvfb with a JIS layout (`setxkbmap -model jp106 -layout jp`):
what the host receives, seen by a small X client and by a real xterm."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jiseki.agent.input.x11 import X11Input
from jiseki.demo.desktop import XTERM_FONT
from jiseki.demo.processes import ProcessGroup
from jiseki.protocol import LOCK_CAPS, LOCK_NUM, LayoutKey
from jiseki.protocol.keycodes import dom_code_to_usage
from tests.xhost import Recorder, XEvent, set_layout, start_xvfb

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("setxkbmap") is None or shutil.which("xterm") is None,
    reason="Xvfb, setxkbmap and xterm are required",
)

USAGE = dom_code_to_usage()
VECTORS = Path(__file__).parent.parent / "vectors"
JIS = json.loads((VECTORS / "keyboard_jis109.json").read_text("utf-8"))["keys"]


class Host:
    def __init__(self, group: ProcessGroup, display: str) -> None:
        self.group = group
        self.display = display
        self.recorder = Recorder(display)
        self.sink = X11Input(display)

    def xterm_writing_to(self, path: Path) -> subprocess.Popen[bytes]:
        """An xterm running `cat > path`, with the keyboard focus."""
        title = f"jiseki-test-{secrets.token_hex(4)}"
        env = {**os.environ, "DISPLAY": self.display, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        proc = self.group.start(
            "xterm",
            ["xterm", *XTERM_FONT, "-title", title, "-geometry", "80x10+420+0", "-e", "sh", "-c", f"cat > {path}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            ["xdotool", "search", "--sync", "--name", title, "windowfocus", "--sync"],
            env=env,
            check=True,
            timeout=30,
            capture_output=True,
        )
        return proc

    def tap(self, code: str) -> None:
        self.sink.key(USAGE[code], True)
        self.sink.key(USAGE[code], False)


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    group = ProcessGroup()
    try:
        desktop = start_xvfb(group)
        set_layout(desktop.display, "jp106", "jp")
        h = Host(group, desktop.display)
        yield h
        h.sink.close()
        h.recorder.close()
    finally:
        group.stop_all()


def presses(events: list[XEvent]) -> list[tuple[str, int, str]]:
    return [(e.kind, e.detail, e.name) for e in events if e.kind in ("press", "release")]


def test_every_jis_key_reaches_its_keycode_and_keysym(host: Host) -> None:
    host.recorder.focus()
    host.recorder.take()
    for k in JIS:
        host.tap(k["code"])
        expected = [("press", k["x_keycode"], k["x_keysym"]), ("release", k["x_keycode"], k["x_keysym"])]
        got = host.recorder.wait_for(lambda ev: len(presses(ev)) >= 2)
        assert presses(got) == expected, k["label"]
    host.tap("NumLock")  # it was toggled on by the table: back off
    host.recorder.wait_for(lambda ev: len(presses(ev)) >= 2)


def test_autorepeat_comes_from_the_terminal_only(host: Host) -> None:
    host.recorder.focus()
    host.recorder.take()
    a = USAGE["KeyA"]
    host.sink.key(a, True)
    time.sleep(1.2)  # long past the X server's repeat delay: it must not have repeated by itself
    host.sink.key(a, True)  # the terminal's repeats
    host.sink.key(a, True)
    host.sink.key(a, False)
    got = host.recorder.wait_for(lambda ev: len(presses(ev)) >= 6)
    time.sleep(0.3)
    got += host.recorder.take()
    assert [kind for kind, _, _ in presses(got)] == ["press", "release", "press", "release", "press", "release"]
    control = host.recorder.d.get_keyboard_control()
    assert control.auto_repeats[38 // 8] >> (38 % 8) & 1, "the key's own repeat setting was not restored"
    # X never repeats modifiers: the terminal's repeated Shift key-downs are not turned into taps.
    shift = USAGE["ShiftLeft"]
    for _ in range(3):
        host.sink.key(shift, True)
    host.sink.key(shift, False)
    got = host.recorder.wait_for(lambda ev: len(presses(ev)) >= 2)
    time.sleep(0.3)
    got += host.recorder.take()
    assert [kind for kind, _, _ in presses(got)] == ["press", "release"]


def test_release_all_leaves_nothing_down(host: Host) -> None:
    host.recorder.focus()
    for code in ("ShiftLeft", "KeyA", "Convert", "ControlRight"):
        host.sink.key(USAGE[code], True)
    host.recorder.wait_for(lambda ev: len(presses(ev)) >= 4)
    assert len(host.recorder.keys_down()) >= 4
    host.sink.release_all()
    deadline = time.monotonic() + 5
    while host.recorder.keys_down() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host.recorder.keys_down() == []


def test_locks_follow_the_terminal_on_a_jis_layout(host: Host) -> None:
    keymap = host.sink._keymap
    host.recorder.focus()
    host.sink.set_locks(LOCK_CAPS | LOCK_NUM, LOCK_CAPS | LOCK_NUM)  # Caps Lock is Shift+英数 on JIS
    assert keymap.lock_state() & (LOCK_CAPS | LOCK_NUM) == LOCK_CAPS | LOCK_NUM
    taps = presses(host.recorder.wait_for(lambda ev: len(presses(ev)) >= 6))
    assert [name for kind, _, name in taps if kind == "press"] == ["Shift_L", "Eisu_toggle", "Num_Lock"]
    host.sink.set_locks(LOCK_CAPS | LOCK_NUM, LOCK_CAPS | LOCK_NUM)  # already so: no key pressed
    time.sleep(0.3)
    assert presses(host.recorder.take()) == []
    host.sink.set_locks(LOCK_CAPS | LOCK_NUM, 0)
    assert keymap.lock_state() & (LOCK_CAPS | LOCK_NUM) == 0


def test_layout_report_follows_the_host_layout(host: Host) -> None:
    layout = host.sink.layout()
    assert layout is not None
    assert layout.name == "jp106/jp"
    keys = {k.usage_id: chr(k.codepoint) for k in layout.keys}
    assert keys[0x2E] == "^" and keys[0x2F] == "@" and keys[0x30] == "[" and keys[0x34] == ":"
    assert keys[0x87] == "\\" and keys[0x89] == "\\"  # ろ and ¥
    assert 0x35 not in keys  # 半角/全角 types no character
    try:
        set_layout(host.display, "pc105", "us")
        us = host.sink.layout()
        assert us is not None and us.name == "pc105/us"
        assert LayoutKey(0x2F, ord("[")) in us.keys
    finally:
        set_layout(host.display, "jp106", "jp")


def test_text_arrives_exactly_in_an_xterm(host: Host, tmp_path: Path) -> None:
    out = tmp_path / "typed.txt"
    proc = host.xterm_writing_to(out)
    # More distinct characters than Xvfb has spare keycodes (17): keycodes are reused on the way.
    many = "一二三四五六七八九十百千万億兆東西南北春夏秋冬日月火水木金土天地人山川海空雨雪風雲花鳥"
    lines = ["日本語の入力テスト、ｶﾀｶﾅ、①", "abc_¥\\@[:", "𠮷野家の葛\U000e0100", many]
    host.sink._keymap.refresh()
    spare_before = [kc for kc in host.sink._keymap.keycodes() if not any(host.sink._keymap.keysyms(kc))]
    try:
        for line in lines:
            host.sink.text(line)
            host.tap("Enter")
        # Held Shift and a host Caps Lock must not change the characters.
        host.sink.set_locks(LOCK_CAPS, LOCK_CAPS)
        host.sink.key(USAGE["ShiftLeft"], True)
        host.sink.text("xyz")
        host.sink.key(USAGE["ShiftLeft"], False)
        host.sink.set_locks(LOCK_CAPS, 0)
        host.tap("Enter")
        host.sink.key(USAGE["ControlLeft"], True)
        host.tap("KeyD")  # end of input: cat exits
        host.sink.key(USAGE["ControlLeft"], False)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.terminate()
    assert out.read_text("utf-8") == "\n".join([*lines, "xyz"]) + "\n"
    host.sink._typer.close()
    host.sink._keymap.refresh()
    spare_after = [kc for kc in host.sink._keymap.keycodes() if not any(host.sink._keymap.keysyms(kc))]
    assert spare_after == spare_before, "borrowed keycodes were not given back"


def test_characters_of_the_layout_are_typed_with_its_keys(host: Host) -> None:
    """Text the host's layout can type needs no keymap change (issue 12 item 21): its keys are
    pressed, with Shift where the layout needs it, and the borrowed keycodes stay untouched."""
    keymap = host.sink._keymap
    keymap.refresh()
    before = [list(row) for row in keymap.rows]
    host.recorder.focus()
    host.recorder.take()
    host.sink.text("a_Z1!")
    got = presses(host.recorder.wait_for(lambda ev: len(presses(ev)) >= 16))
    assert [(kind, name) for kind, _, name in got] == [
        ("press", "a"), ("release", "a"),
        ("press", "Shift_L"), ("press", "backslash"), ("release", "backslash"), ("release", "Shift_L"),  # ろ
        ("press", "Shift_L"), ("press", "z"), ("release", "z"), ("release", "Shift_L"),
        ("press", "1"), ("release", "1"),
        ("press", "Shift_L"), ("press", "1"), ("release", "1"), ("release", "Shift_L"),
    ]  # fmt: skip
    time.sleep(0.2)
    host.recorder.take()
    keymap.refresh()
    assert keymap.rows == before


def test_a_key_lent_to_text_mode_does_not_type_its_text(host: Host) -> None:
    """F24 has no keysym in the JIS layout, so text mode may borrow its keycode; pressing F24 then
    must not type the borrowed character."""
    host.recorder.focus()
    host.sink.text("€一二三四五六七八九十百千万億兆東西南北")  # more than the 17 empty keycodes
    host.recorder.wait_for(lambda ev: len(presses(ev)) >= 40)
    keymap = host.sink._keymap
    keymap.refresh()
    assert any(keymap.keysyms(202)), "F24's keycode (evdev 194 + 8) was not lent"
    host.tap("F24")
    time.sleep(0.3)
    assert presses(host.recorder.take()) == []


def test_a_server_without_xtest_is_refused_with_a_clear_error() -> None:
    """python-xlib answers None for an extension the server lacks (it once gave an AttributeError)."""
    group = ProcessGroup()
    read_fd, write_fd = os.pipe()
    try:
        group.start(
            "Xvfb",
            ["Xvfb", "-displayfd", str(write_fd), "-extension", "XTEST", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as fh:
            number = fh.readline().strip()
        assert number, "Xvfb did not start"
        with pytest.raises(RuntimeError, match="no XTEST extension"):
            X11Input(f":{int(number)}")
    finally:
        group.stop_all()
