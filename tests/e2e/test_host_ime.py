"""End to end, the office PC's own IME: fcitx5 + mozc on the virtual office PC, keys typed through
the real viewer in Chromium in physical mode (as a JIS keyboard on Windows delivers them), the
conversion done by mozc on the host, the result read from the file the host's xterm writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jiseki.demo.run import DemoStack
from tests.conftest import free_port
from tests.xhost import set_layout

from .conftest import login, needs_desktop, terminal_context, wait_for_agent
from .hostime import HostIME, ime_available
from .keys import Keys
from .test_keyboard_jis import file_appears, open_page
from .test_viewer import page_point

pytestmark = [
    pytest.mark.e2e,
    needs_desktop,
    pytest.mark.skipif(not ime_available(), reason="fcitx5, fcitx5-mozc, dbus and root (to run mozc as nobody) needed"),
]


@pytest.fixture(scope="module")
def ime_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoStack, HostIME]]:
    demo = DemoStack(tmp_path_factory.mktemp("ime-stack"), free_port(), quiet=True)
    ime: HostIME | None = None
    try:
        demo.start()
        set_layout(demo.desktop.display, "jp106", "jp")
        wait_for_agent(demo)
        ime = HostIME(demo.desktop.display)
        ime.start()
        yield demo, ime
    finally:
        if ime is not None:
            ime.stop()
        demo.stop()


def test_host_mozc_converts_keys_typed_in_the_viewer(browser, ime_stack: tuple[DemoStack, HostIME]) -> None:  # type: ignore[no-untyped-def]
    stack, ime = ime_stack
    output = ime.workdir / "typed.txt"
    proc, _title = ime.xterm(output, "60x8+300+640")
    context = terminal_context(browser, stack)
    login(context.new_page(), stack)
    page = open_page(context, stack, windows=True)
    try:
        time.sleep(0.5)
        page.mouse.click(*page_point(page, 500, 700))  # into the IME xterm: the window manager focuses it
        time.sleep(0.5)
        keys = Keys(context, page)
        keys.down("Backquote", "Zenkaku", 243)  # 半角/全角 on Windows: no keyup comes
        for ch in "nihongo":
            keys.tap(f"Key{ch.upper()}", ch, ord(ch.upper()))
        keys.tap("Space", " ", 32)  # convert: にほんご -> 日本語
        keys.enter()  # commit (mozc consumes this Enter)
        keys.down("Backquote", "Hankaku", 244)  # IME off again
        keys.enter()  # a newline for cat
        assert file_appears(Path(output), timeout=30) == "日本語\n"
    finally:
        context.close()
        proc.terminate()
