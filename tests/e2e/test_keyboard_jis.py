"""End to end, Japanese keyboard: a JIS office PC (`setxkbmap -model jp106 -layout jp` on Xvfb), the
real gateway and agent, and the real viewer in Chromium receiving key events as a JIS keyboard on
Windows delivers them. What the office PC receives is read by a small X client (tests/xhost.py)
and by a real xterm writing to a file."""

from __future__ import annotations

import json
import secrets
import string
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from Xlib import X
from Xlib.ext import xtest

from jiseki.agent.input.hid_evdev import evdev_code
from jiseki.demo.run import DemoStack
from jiseki.protocol.keycodes import dom_code_to_usage
from tests.conftest import free_port
from tests.xhost import Recorder, XEvent, set_layout

from .conftest import login, needs_desktop, terminal_context, wait_for_agent, xdotool
from .keys import Keys, emulate_windows
from .test_viewer import page_point, wait_for

pytestmark = [pytest.mark.e2e, needs_desktop]

VECTORS = Path(__file__).parent.parent / "vectors"
JIS = json.loads((VECTORS / "keyboard_jis109.json").read_text("utf-8"))["keys"]
QUIRKS = json.loads((VECTORS / "keyboard_quirks.json").read_text("utf-8"))["sequences"]
X_KEYCODE = {k["code"]: k["x_keycode"] for k in JIS}
USAGE = dom_code_to_usage()


@pytest.fixture(scope="module")
def jis_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    demo = DemoStack(tmp_path_factory.mktemp("jis"), free_port(), quiet=True)
    try:
        demo.start()
        set_layout(demo.desktop.display, "jp106", "jp")
        wait_for_agent(demo)
        yield demo
    finally:
        demo.stop()
        log = demo.data_dir / "processes.log"
        if log.exists():
            print(log.read_text(errors="replace")[-4000:])


@pytest.fixture(scope="module")
def jis_context(browser, jis_stack: DemoStack):  # type: ignore[no-untyped-def]
    """A registered terminal's browser, logged in once for the module; tests open their own pages."""
    context = terminal_context(browser, jis_stack)
    page = context.new_page()
    login(page, jis_stack)
    page.close()
    yield context
    context.close()


@pytest.fixture
def recorder(jis_stack: DemoStack) -> Iterator[Recorder]:
    # At the top left of the office PC's screen, above the demo's windows.
    rec = Recorder(jis_stack.desktop.display, 0, 0, 400, 300)
    rec.focus()
    yield rec
    rec.close()


def open_page(context: Any, stack: DemoStack, *, windows: bool = False, width: int = 1920, height: int = 1200) -> Any:
    """A viewer page in the logged-in context; `windows`: the page believes it runs on Windows."""
    page = context.new_page()
    page.keep_alive = emulate_windows(context, page) if windows else None  # type: ignore[attr-defined]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(stack.viewer_url)
    wait_for(page, "window.jisekiStats && window.jisekiStats.state === 'connected'")
    wait_for(page, "window.jisekiStats.framesDrawn > 0")
    page.focus("#screen")
    return page


def keys_of(events: list[XEvent]) -> list[tuple[str, int]]:
    return [(e.kind, e.detail) for e in events if e.kind in ("press", "release")]


def expected_x(messages: list[list[Any]]) -> list[tuple[str, int]]:
    """What X receives for KEY messages: a press of a held key is an autorepeat (release, press)."""
    held: set[str] = set()
    out: list[tuple[str, int]] = []
    for code, down in messages:
        kc = X_KEYCODE[code]
        if down and code in held:
            out += [("release", kc), ("press", kc)]
        elif down:
            held.add(code)
            out.append(("press", kc))
        elif code in held:
            held.discard(code)
            out.append(("release", kc))
    return out


def test_every_jis_key_through_the_viewer(  # type: ignore[no-untyped-def]
    jis_context, jis_stack: DemoStack, recorder: Recorder
) -> None:
    page = open_page(jis_context, jis_stack, windows=True)
    try:
        keys = Keys(jis_context, page)
        for k in JIS:
            # As Windows delivers them: the Japanese IM keys come without a keyup.
            keys.down(k["code"], k["key"], k["keyCode"], location=k["location"])
            if k["key"] not in ("Zenkaku", "Hankaku", "Alphanumeric", "Hiragana", "Katakana", "Romaji"):
                keys.up(k["code"], k["key"], k["keyCode"], location=k["location"])
            try:
                got = recorder.wait_for(lambda ev: len(keys_of(ev)) >= 2)
            except AssertionError as exc:
                stats = page.evaluate("window.jisekiStats.input")
                raise AssertionError(f"{k['label']}: {exc}; viewer: {stats}") from None
            assert keys_of(got) == [("press", k["x_keycode"]), ("release", k["x_keycode"])], k["label"]
            assert got[0].name == k["x_keysym"], k["label"]
        keys.tap("NumLock", "NumLock", 144)  # the table switched the host's Num Lock on
        recorder.wait_for(lambda ev: len(keys_of(ev)) >= 2)
    finally:
        page.close()


@pytest.mark.parametrize("windows", [True, False], ids=["windows", "other"])
def test_quirk_sequences_through_the_viewer(  # type: ignore[no-untyped-def]
    jis_context, jis_stack: DemoStack, recorder: Recorder, windows: bool
) -> None:
    page = open_page(jis_context, jis_stack, windows=windows)
    try:
        keys = Keys(jis_context, page)
        for n, seq in enumerate(s for s in QUIRKS if s["windows"] == windows):
            recorder.take()
            for event in seq["events"]:
                keys.fixture_event(event, offset=n * 10.0)
            expected = expected_x(seq["messages"])
            # A marker key closes the sequence: everything before it has arrived.
            keys.tap("F24", "F24", 135)
            marker = evdev_code(USAGE["F24"]) + 8  # type: ignore[operator]
            got = recorder.wait_for(lambda ev: ("release", marker) in keys_of(ev))
            assert keys_of(got)[:-2] == expected, seq["name"]
        assert recorder.keys_down() == []
    finally:
        page.close()


def file_appears(path: Path, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text("utf-8").endswith("\n"):
            return path.read_text("utf-8")
        time.sleep(0.1)
    raise AssertionError(f"{path} was not written")


def focus_terminal(page: Any, stack: DemoStack) -> None:
    """Click into the demo's terminal window (top left of the office PC's desktop) until X says it has
    the keyboard focus. The recorder window of an earlier test held the focus and, destroyed, handed
    it to the root: the window manager then does not always take the first click as a focus change."""
    terminal = str(next(proc.pid for name, proc in stack.group.procs if name == "xterm"))
    focused = ""
    for _ in range(5):
        page.mouse.click(*page_point(page, 300, 350))
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                focused = xdotool(stack.desktop.display, "getwindowfocus", "getwindowpid").strip()
            except subprocess.CalledProcessError:
                focused = ""  # the root window has no pid
            if focused == terminal:
                page.keyboard.press("Control+c")  # a fresh prompt, whatever an earlier test left typed
                time.sleep(0.2)
                return
            time.sleep(0.05)
    raise AssertionError(f"the terminal (pid {terminal}) never got the keyboard focus (focus: {focused!r})")


def test_jis_characters_typed_in_an_xterm(jis_context, jis_stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_page(jis_context, jis_stack, windows=True)
    name = "jiseki_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    target = Path("/tmp") / name
    try:
        focus_terminal(page, jis_stack)
        keys = Keys(jis_context, page)
        keys.type_jis(f"cat > /tmp/{name}")
        keys.enter()
        time.sleep(0.5)
        # Every printable key of the JIS keyboard, unshifted and shifted; ¥ and ろ both type \
        typed = "a_b\\c@d[e:f;g^h-i]j,k.l/m 1!2\"3#4$5%6&7'8(9)0=~|`{+*}<>?"
        keys.type_jis(typed)
        keys.tap("IntlRo", "\\", 226)  # ろ unshifted: backslash too
        keys.enter()
        keys.ctrl("d")
        assert file_appears(target) == typed + "\\\n"
    finally:
        page.close()
        target.unlink(missing_ok=True)


def test_text_mode_types_composed_japanese(jis_context, jis_stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    page = open_page(jis_context, jis_stack, windows=True)
    name = "jiseki_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    target = Path("/tmp") / name
    try:
        page.select_option("#kbd-mode", "text")
        wait_for(page, "window.jisekiStats.keyboard.mode === 'text'")
        focus_terminal(page, jis_stack)
        assert page.evaluate("document.activeElement.id") == "ime"
        # Characters typed in text mode arrive as TEXT (the terminal's layout is what counts).
        page.keyboard.type(f"cat > /tmp/{name}")
        page.keyboard.press("Enter")
        time.sleep(0.5)
        # The terminal's IME composes, then commits.
        cdp = jis_context.new_cdp_session(page)
        for text in ("にほんごのにゅうりょくてすと", "日本語の入力テスト"):
            cdp.send("Input.imeSetComposition", {"text": text, "selectionStart": len(text), "selectionEnd": len(text)})
        cdp.send("Input.insertText", {"text": "日本語の入力テスト"})
        page.keyboard.insert_text("、ｶﾀｶﾅ、①")
        page.keyboard.press("Enter")
        page.keyboard.press("Control+d")
        assert file_appears(target) == "日本語の入力テスト、ｶﾀｶﾅ、①\n"
        assert page.evaluate("window.jisekiStats.input.texts") >= 2
    finally:
        page.close()
        target.unlink(missing_ok=True)


def test_text_mode_leaves_out_direction_overrides_and_says_so(jis_context, jis_stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 item 24: a right-to-left override is not typed, the rest is, and the user is told."""
    page = open_page(jis_context, jis_stack, windows=True)
    name = "jiseki_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    target = Path("/tmp") / name
    try:
        page.select_option("#kbd-mode", "text")
        wait_for(page, "window.jisekiStats.keyboard.mode === 'text'")
        focus_terminal(page, jis_stack)
        page.keyboard.type(f"cat > /tmp/{name}")
        page.keyboard.press("Enter")
        time.sleep(0.5)
        assert not page.is_visible("#text-notice")
        cdp = jis_context.new_cdp_session(page)
        cdp.send("Input.insertText", {"text": "請求書\u202egpj.exe"})
        wait_for(page, "!document.getElementById('text-notice').hidden")
        notice = page.inner_text("#text-notice")
        assert "U+202E" in notice and "取り除き" in notice
        page.keyboard.press("Enter")
        page.keyboard.press("Control+d")
        assert file_appears(target) == "請求書gpj.exe\n"
        page.click("#text-notice-close")
        assert not page.is_visible("#text-notice")
    finally:
        page.close()
        target.unlink(missing_ok=True)


def test_held_keys_are_released_on_blur_and_on_disconnect(  # type: ignore[no-untyped-def]
    jis_context, jis_stack: DemoStack, recorder: Recorder
) -> None:
    page = open_page(jis_context, jis_stack)
    other = None
    try:
        keys = Keys(jis_context, page)
        keys.down("ShiftLeft", "Shift", 16, modifiers=8)
        keys.down("KeyA", "A", 65, modifiers=8)
        recorder.wait_for(lambda ev: len(keys_of(ev)) >= 2)
        assert {X_KEYCODE["ShiftLeft"], X_KEYCODE["KeyA"]} <= set(recorder.keys_down())
        # Another window comes to the front: the viewer's window loses the focus (a real blur).
        keys.cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
        other = jis_context.new_page()
        other.bring_to_front()
        got = recorder.wait_for(lambda ev: len(keys_of(ev)) >= 2)
        assert sorted(keys_of(got)) == [("release", X_KEYCODE["KeyA"]), ("release", X_KEYCODE["ShiftLeft"])]
        assert recorder.keys_down() == []
    finally:
        page.close()
        if other is not None:
            other.close()
    # Disconnect: keys held when the page goes away are released by the agent.
    page = open_page(jis_context, jis_stack)
    keys = Keys(jis_context, page)
    keys.down("ControlRight", "Control", 17, location=2)
    keys.down("KeyZ", "z", 90)
    recorder.wait_for(lambda ev: len(keys_of(ev)) >= 2)
    page.close()
    got = recorder.wait_for(lambda ev: len(keys_of(ev)) >= 2, timeout=20)
    assert sorted(keys_of(got)) == sorted([("release", X_KEYCODE["ControlRight"]), ("release", X_KEYCODE["KeyZ"])])
    assert recorder.keys_down() == []


def test_wheel_totals_equal_the_notches_the_host_receives(  # type: ignore[no-untyped-def]
    jis_context, jis_stack: DemoStack, recorder: Recorder
) -> None:
    page = open_page(jis_context, jis_stack)
    try:
        page.mouse.move(*page_point(page, 200, 150))  # over the recorder window on the office PC
        time.sleep(0.3)
        recorder.take()
        plan = [(100.0, 40), (3.7, 300), (53.0, -25), (0.9, -400), (250.0, 7)]  # (pixels per event, events)
        for pixels, count in plan:
            for _ in range(abs(count)):
                page.mouse.wheel(0, pixels if count > 0 else -pixels)
        sent = page.evaluate("window.jisekiStats.input.wheel.y")
        expected_notches = int(sent / 120)
        # Every WHEEL went out; the host must receive exactly the whole notches they add up to.
        got = recorder.wait_for(
            lambda ev: (
                sum(1 if e.detail == 5 else -1 for e in ev if e.kind == "button" and e.detail in (4, 5))
                == expected_notches
            ),
            timeout=30,
        )
        time.sleep(0.5)
        got += recorder.take()
        down = sum(1 for e in got if e.kind == "button" and e.detail == 5)
        up = sum(1 for e in got if e.kind == "button" and e.detail == 4)
        assert down - up == expected_notches
        # And the viewer lost nothing on its side: a notched wheel is one notch per event whatever
        # the pixels (Chromium reports wheelDelta ±120 here), fine deltas use the last notch size.
        units = 40 * 120 + 300 * 3.7 * 120 / 100 - 25 * 120 - 400 * 0.9 * 120 / 53 + 7 * 120
        assert abs(sent - units) < 1
    finally:
        page.close()


def test_full_screen_locks_the_keyboard_and_hold_escape_leaves(  # type: ignore[no-untyped-def]
    jis_context, jis_stack: DemoStack, recorder: Recorder
) -> None:
    page = open_page(jis_context, jis_stack)
    try:
        page.click("#fullscreen")
        wait_for(page, "window.jisekiStats.keyboard.fullscreen && window.jisekiStats.keyboard.locked")
        assert page.is_visible("#fullscreen-hint")
        assert "Escキーを長押しすると全画面表示を終了します" in page.inner_text("#fullscreen-hint")
        assert page.inner_text("#fullscreen") == "全画面表示を終了"
        keys = Keys(jis_context, page)
        recorder.focus()
        recorder.take()
        # Browser shortcuts go to the office PC: Ctrl+W closes nothing here.
        keys.ctrl("w")
        keys.tap("MetaLeft", "Meta", 91)
        keys.tap("Escape", "Escape", 27)
        got = recorder.wait_for(lambda ev: len(keys_of(ev)) >= 8)
        assert [e.name for e in got if e.kind == "press"] == ["Control_L", "w", "Super_L", "Escape"]
        assert page.evaluate("!!document.fullscreenElement")
        # Holding Esc (its autorepeat keeps coming) is the way out.
        keys.down("Escape", "Escape", 27)
        deadline = time.monotonic() + 10
        while page.evaluate("!!document.fullscreenElement") and time.monotonic() < deadline:
            keys.down("Escape", "Escape", 27, autoRepeat=True)
            time.sleep(0.03)
        keys.up("Escape", "Escape", 27)
        wait_for(page, "!window.jisekiStats.keyboard.fullscreen")
        assert page.inner_text("#fullscreen") == "全画面表示"
        # Ctrl+Alt+Del from the toolbar.
        recorder.take()
        page.click("#cad")
        got = recorder.wait_for(lambda ev: len(keys_of(ev)) >= 6)
        assert [(e.kind, e.name) for e in got if e.kind in ("press", "release")] == [
            ("press", "Control_L"),
            ("press", "Alt_L"),
            ("press", "Delete"),
            ("release", "Delete"),
            ("release", "Alt_L"),
            ("release", "Control_L"),
        ]
    finally:
        page.close()


def forget_layout_notice(page: Any) -> None:
    """The terminal has not been told about any office PC layout yet."""
    status = page.evaluate(
        "fetch('/api/terminal/view', {method: 'POST', headers: {'Content-Type': 'application/json',"
        " 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},"
        " body: JSON.stringify({layout_told: ''})}).then(r => r.status)"
    )
    assert status == 200


def test_layout_mismatch_is_told_once(jis_context, jis_stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    """Once per terminal, in words (issue 12 item 25): not at every connection or page."""
    page = open_page(jis_context, jis_stack)
    forget_layout_notice(page)
    page.close()
    page = open_page(jis_context, jis_stack)
    try:
        # Headless Chromium's layout map is a US one; the office PC is JIS.
        assert page.evaluate("navigator.keyboard.getLayoutMap().then(m => m.get('BracketLeft'))") == "["
        wait_for(page, "window.jisekiStats.keyboard.layoutNotice")
        assert page.evaluate("window.jisekiStats.keyboard.hostLayout") == "jp106/jp"
        text = page.inner_text("#layout-notice")
        assert "自席PCのキーボード配列は日本語配列（JIS）で" in text and "文字入力" in text
        assert "jp106" not in text
        page.click("#layout-close")
        assert not page.is_visible("#layout-notice")
        # A new session (reconnect) reports the layout again: no second notice.
        sessions = page.evaluate("window.jisekiStats.sessions")
        page.click("#disconnect")
        wait_for(page, "window.jisekiStats.state === 'disconnected'")
        page.click("#reconnect")
        wait_for(page, f"window.jisekiStats.sessions > {sessions} && window.jisekiStats.state === 'connected'")
        wait_for(page, "window.jisekiStats.keyboard.hostLayout === 'jp106/jp'")
        time.sleep(0.5)
        assert not page.is_visible("#layout-notice")
    finally:
        page.close()
    # Nor on a new page of this terminal: the gateway remembers it was told.
    page = open_page(jis_context, jis_stack)
    try:
        wait_for(page, "window.jisekiStats.keyboard.hostLayout === 'jp106/jp'")
        time.sleep(0.5)
        assert not page.evaluate("window.jisekiStats.keyboard.layoutNotice")
        assert not page.is_visible("#layout-notice")
        assert page.get_attribute("body", "data-layout-told") == "jp106/jp"
    finally:
        page.close()


def test_no_layout_notice_when_the_layouts_agree(  # type: ignore[no-untyped-def]
    jis_context, jis_stack: DemoStack
) -> None:
    set_layout(jis_stack.desktop.display, "pc105", "us")
    try:
        page = open_page(jis_context, jis_stack)
        try:
            wait_for(page, "window.jisekiStats.keyboard.hostLayout === 'pc105/us'")
            time.sleep(0.5)
            assert not page.evaluate("window.jisekiStats.keyboard.layoutNotice")
            assert not page.is_visible("#layout-notice")
        finally:
            page.close()
    finally:
        set_layout(jis_stack.desktop.display, "jp106", "jp")


def test_host_pointer_in_a_chosen_monitor(jis_context, jis_stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    display = jis_stack.desktop.display
    xrandr = ["xrandr", "--display", display]

    subprocess.run([*xrandr, "--setmonitor", "left", "960/254x1080/286+0+0", "screen"], check=True, timeout=30)
    subprocess.run([*xrandr, "--setmonitor", "right", "960/254x1080/286+960+0", "none"], check=True, timeout=30)
    try:
        page = open_page(jis_context, jis_stack)
        try:
            wait_for(page, "window.jisekiStats.view.monitors === 2")
            assert page.is_visible("#monitor")
            labels = page.eval_on_selector_all("#monitor option", "els => els.map(e => e.textContent)")
            assert labels == ["すべてのモニター", "モニター1（960×1080）", "モニター2（960×1080）"]
            page.select_option("#monitor", "1")
            wait_for(page, "window.jisekiStats.view.monitor === 1")
            left, top, width, height = rect_of(page, "#view")
            assert (width, height) == (960, 1080)  # the right monitor alone, 1:1
            # Desktop coordinates of the right monitor: its own left edge is x = 960 on the host.
            page.mouse.click(*page_point(page, 1500, 500))
            wait_host_pointer(display, 1500, 500)
            page.mouse.click(left + 0.5, top + 600.5)
            wait_host_pointer(display, 960, 600)
        finally:
            page.close()
    finally:
        subprocess.run([*xrandr, "--delmonitor", "left"], check=False, timeout=30)
        subprocess.run([*xrandr, "--delmonitor", "right"], check=False, timeout=30)


def rect_of(page: Any, selector: str) -> list[float]:
    script = "e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }"
    return page.eval_on_selector(selector, script)  # type: ignore[no-any-return]


def wait_host_pointer(display: str, x: int, y: int) -> None:
    deadline = time.monotonic() + 10
    location = ""
    while time.monotonic() < deadline:
        location = xdotool(display, "getmouselocation")
        fields = dict(part.split(":") for part in location.split()[:2])
        if abs(int(fields["x"]) - x) <= 1 and abs(int(fields["y"]) - y) <= 1:
            return
        time.sleep(0.1)
    raise AssertionError(f"host pointer at {location!r}, expected {(x, y)}")


def host_locks(recorder: Recorder) -> int:
    """The host's Caps Lock (1) and Num Lock (2) as its X server has them now."""
    with recorder._lock:
        mask = recorder.d.screen().root.query_pointer().mask
    return (1 if mask & X.LockMask else 0) | (2 if mask & X.Mod2Mask else 0)


def set_host_locks_on(recorder: Recorder) -> None:
    """Caps Lock (Shift+英数 on JIS) and Num Lock on, as if someone had left them on at the desk."""
    with recorder._lock:
        d = recorder.d
        for kind, keycode in ((X.KeyPress, 50), (X.KeyPress, 66), (X.KeyRelease, 66), (X.KeyRelease, 50)):
            xtest.fake_input(d, kind, keycode)
        xtest.fake_input(d, X.KeyPress, 77)
        xtest.fake_input(d, X.KeyRelease, 77)
        d.sync()


def test_lock_states_follow_the_terminal_at_start_and_on_focus(  # type: ignore[no-untyped-def]
    jis_context, jis_stack: DemoStack, recorder: Recorder
) -> None:
    set_host_locks_on(recorder)
    assert host_locks(recorder) == 3
    page = open_page(jis_context, jis_stack)
    try:
        # The terminal has Caps Lock and Num Lock off: its first input event brings the host along.
        page.mouse.move(*page_point(page, 200, 150))
        deadline = time.monotonic() + 10
        while host_locks(recorder) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert host_locks(recorder) == 0
        assert page.evaluate("window.jisekiStats.input.locks") == 1
        # Locks changed at the desk while the viewer's window was in the background...
        keys = Keys(jis_context, page)
        keys.cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
        other = jis_context.new_page()
        other.bring_to_front()
        set_host_locks_on(recorder)
        # ... are synced again with the first event after the window is back in front.
        page.bring_to_front()
        page.focus("#screen")
        keys.tap("ShiftLeft", "Shift", 16)
        deadline = time.monotonic() + 10
        while host_locks(recorder) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert host_locks(recorder) == 0
        assert page.evaluate("window.jisekiStats.input.locks") == 2
        other.close()
    finally:
        page.close()
