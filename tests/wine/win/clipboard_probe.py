"""The real WindowsClipboard(Win32Clipboard()) under Wine. Mode (argv[1]):
roundtrip  set and read back Japanese text, the listener counts our own change;
from_x     wait for a change made by another program (the test writes the X clipboard, which
           Wine mirrors), then read it;
to_x       set a text and stay until the test has read the X clipboard (argv[2]: a file the
           test creates when done)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from common import main

TEXT = "日本語のテキスト\n2行目 ¥100 😀"
TO_X = "Windows から X へ\n¥ 2行目"  # not TEXT: the X clipboard may still hold that from before


def ready() -> None:
    with open(os.environ["JISEKI_RESULT"] + ".ready", "w") as fh:
        fh.write("ready")


def run() -> dict[str, Any]:
    from jiseki.agent.clipboard.windows import WindowsClipboard
    from jiseki.agent.win32.clipboard import Win32Clipboard

    api = Win32Clipboard()
    board = WindowsClipboard(api)
    out: dict[str, Any] = {"listening": api.listening}
    try:
        mode = sys.argv[1]
        if mode == "roundtrip":
            before = board.sequence()
            board.set_text(TEXT)
            out["noticed"] = api.wait_change(before if before is not None else -1, 5)
            out["text"] = board.get_text()
            out["sequence_moved"] = board.sequence() != before
            out["sequence_steady"] = board.sequence() == board.sequence()
        elif mode == "from_x":
            seen = api.changes()
            ready()
            out["noticed"] = api.wait_change(seen, 15)
            out["text"] = board.get_text()
        elif mode == "to_x":
            board.set_text(TO_X)
            ready()
            deadline = time.monotonic() + 20
            while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        board.close()
    return out


main(run)
