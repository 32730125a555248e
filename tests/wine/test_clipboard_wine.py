"""The Windows clipboard backend for real: `WindowsClipboard(Win32Clipboard())` under Wine, and the
X clipboard Wine keeps in step with it (another program's change, seen by the listener).

What Wine cannot prove here: clipboard history / cloud clipboard (Win+V), other formats than text
(the agent syncs text only), delayed rendering by real Windows applications, and a clipboard held
open by another program for long (only the retry loop's normal path runs).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import WinePython, stop, windows_path

TEXT = "日本語のテキスト\n2行目 ¥100 😀"


def _xclip(display: str, *args: str, text: str | None = None) -> str:
    # Writing, xclip stays in the background to serve the selection: it must not hold our pipes.
    out = subprocess.DEVNULL if text is not None else subprocess.PIPE
    done = subprocess.run(
        ["xclip", "-selection", "clipboard", *args],
        input=text.encode() if text is not None else None,
        env={**os.environ, "DISPLAY": display},
        stdout=out,
        stderr=subprocess.DEVNULL,
        timeout=10,
        check=True,
    )
    return done.stdout.decode() if done.stdout is not None else ""


def _start(wine: WinePython, tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    result = tmp / "result.json"
    proc = wine.popen(
        [windows_path(Path(__file__).parent / "win" / "clipboard_probe.py"), *args],
        env={"JISEKI_RESULT": windows_path(result)},
        log=tmp / "log.txt",
    )
    deadline = time.monotonic() + 60
    while not Path(str(result) + ".ready").exists():
        assert proc.poll() is None, (tmp / "log.txt").read_text(errors="replace")
        assert time.monotonic() < deadline, "the clipboard script did not get ready"
        time.sleep(0.05)
    return proc, result


def _result(proc: subprocess.Popen[bytes], result: Path) -> dict[str, Any]:
    import json

    proc.wait(60)
    got: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    assert got.get("error") is None, got.get("traceback")
    return got


def test_japanese_text_round_trip_and_the_listener(wine: WinePython) -> None:
    got = wine.run("clipboard_probe.py", "roundtrip")
    assert got.get("error") is None, got.get("traceback")
    assert got["listening"] is True  # AddClipboardFormatListener
    assert got["noticed"] is True  # WM_CLIPBOARDUPDATE for our own write
    assert got["text"] == TEXT  # CRLF on the Windows side, LF again when read
    assert got["sequence_moved"] and got["sequence_steady"]


def test_a_change_by_another_program_is_noticed_and_read(wine: WinePython) -> None:
    """X -> Windows: the test writes the X clipboard; Wine turns that into a Windows clipboard change."""
    with tempfile.TemporaryDirectory(prefix="jiseki-clip-") as tmp:
        proc, result = _start(wine, Path(tmp), "from_x")
        try:
            _xclip(wine.display, "-i", text="コピー from X ¥")
            got = _result(proc, result)
        finally:
            stop(proc)
    assert got["noticed"] is True
    assert got["text"] == "コピー from X ¥"


def test_windows_text_reaches_the_x_clipboard(wine: WinePython) -> None:
    """Windows -> X: what WindowsClipboard writes, xclip reads as UTF-8 with LF line ends."""
    with tempfile.TemporaryDirectory(prefix="jiseki-clip-") as tmp:
        done = Path(tmp) / "done"
        proc, result = _start(wine, Path(tmp), "to_x", windows_path(done))
        try:
            seen = _xclip(wine.display, "-o", "-t", "UTF8_STRING")
            done.touch()
            _result(proc, result)
        finally:
            stop(proc)
    assert seen == "Windows から X へ\n¥ 2行目"
