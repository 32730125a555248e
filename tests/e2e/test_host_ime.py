"""End to end, the office PC's own IME: fcitx5 + mozc on the virtual office PC, keys typed through
the real viewer in Chromium in physical mode (as a JIS keyboard on Windows delivers them), the
conversion done by mozc on the host, the result read from the file the host's xterm writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jiseki.demo.run import DemoStack
from tests.conftest import free_port
from tests.xhost import set_layout

from .conftest import login, needs_desktop, terminal_context, wait_for_agent
from .hostime import HostIME, ime_available
from .keys import Keys
from .test_keyboard_jis import file_appears, open_page
from .test_viewer import page_point, wait_for

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


def end_session(page: Any) -> None:
    """Disconnect, so that the next test's session does not find the PC in use (the resume grace)."""
    page.click("#disconnect")
    wait_for(page, "window.jisekiStats.state === 'disconnected'")


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
        end_session(page)
        context.close()
        proc.terminate()


def test_mac_kana_and_eisu_keys_turn_the_host_ime_on_and_off(  # type: ignore[no-untyped-def]
    browser, ime_stack: tuple[DemoStack, HostIME]
) -> None:
    """Issue 12 item 23: a Mac JIS keyboard's かな (Lang1) turns the office PC's IME on and 英数
    (Lang2) turns it off -- each pressed twice: they set the state, they do not toggle it."""
    stack, ime = ime_stack
    output = ime.workdir / "kana-eisu.txt"
    proc, _title = ime.xterm(output, "60x8+300+640")
    context = terminal_context(browser, stack)
    login(context.new_page(), stack)
    page = open_page(context, stack)
    try:
        time.sleep(0.5)
        page.mouse.click(*page_point(page, 500, 700))  # into the IME xterm
        time.sleep(0.5)
        keys = Keys(context, page)
        for _ in range(2):
            keys.tap("Lang1", "KanaMode", 0)  # かな
            time.sleep(0.3)
        for ch in "nihongo":
            keys.tap(f"Key{ch.upper()}", ch, ord(ch.upper()))
        keys.tap("Space", " ", 32)  # convert: にほんご -> 日本語
        keys.enter()  # commit
        time.sleep(0.3)
        for _ in range(2):
            keys.tap("Lang2", "Eisu", 0)  # 英数
            time.sleep(0.3)
        for ch in "abc":
            keys.tap(f"Key{ch.upper()}", ch, ord(ch.upper()))
        keys.enter()
        assert file_appears(Path(output), timeout=30) == "日本語abc\n"
    finally:
        end_session(page)
        context.close()
        proc.terminate()


# 230+ characters: ASCII, symbols, U+2212 (the issue's `−` that arrived as `»`), kana, kanji, full
# width, half-width kana, Latin-1, Greek, Cyrillic, a character outside the BMP -- many more distinct
# characters than Xvfb has spare keycodes (17), so borrowed keycodes are rebound on the way.
MIXED = (
    "The quick brown fox — jumps over 13 lazy dogs; 価格は¥1,980（税込）です。"
    "温度−5℃〜＋3℃、«引用»と“記号”… 日本語の入力テスト：東西南北春夏秋冬、"
    "ＡＢＣ全角１２３、ｶﾀｶﾅ、①②③、§±×÷°′″→←↑↓★☆♪〒々〆ヶ𠮷野家 "
    "email: user@example.jp, path C:\\Users\\tanaka, math: a−b=c, x²+y³, αβγ ΩΣ, Привет, "
    "漢字かなカナ混じり文を正確に入力できるか確認します。"
)


def test_text_mode_is_exact_behind_the_host_input_method(  # type: ignore[no-untyped-def]
    browser, ime_stack: tuple[DemoStack, HostIME]
) -> None:
    """Issue 12 item 21: text mode into an xterm that reads its keys through fcitx5 (IME off)."""
    assert len(MIXED) >= 230
    stack, ime = ime_stack
    output = ime.workdir / "mixed.txt"
    proc, _title = ime.xterm(output, "60x8+300+640")
    context = terminal_context(browser, stack)
    login(context.new_page(), stack)
    page = open_page(context, stack, windows=True)
    try:
        page.select_option("#kbd-mode", "text")
        wait_for(page, "window.jisekiStats.keyboard.mode === 'text'")
        time.sleep(0.5)
        page.mouse.click(*page_point(page, 500, 700))  # into the IME xterm
        time.sleep(0.5)
        cdp = context.new_cdp_session(page)
        # As the terminal's IME commits: pieces of varied length, back to back.
        pieces, at = [], 0
        for size in (3, 40, 7, 1, 90, 12, 200):
            pieces.append(MIXED[at : at + size])
            at += size
        assert "".join(pieces) == MIXED
        for piece in pieces:
            cdp.send("Input.insertText", {"text": piece})
        page.keyboard.press("Enter")
        got = file_appears(Path(output), timeout=90)
        assert got == MIXED + "\n", [(i, a, b) for i, (a, b) in enumerate(zip(got, MIXED, strict=False)) if a != b][:10]
    finally:
        end_session(page)
        context.close()
        proc.terminate()
