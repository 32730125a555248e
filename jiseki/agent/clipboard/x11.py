"""X11 clipboard (the CLIPBOARD selection) through `xclip`: it serves the selection from its own
process after we write, which is what X11 needs and what python-xlib alone makes hard."""

from __future__ import annotations

import os
import shutil
import subprocess

from jiseki.protocol import MAX_CLIPBOARD_BYTES

MAX_READ = MAX_CLIPBOARD_BYTES  # more could never travel in one CLIPBOARD message


class X11Clipboard:
    def __init__(self, display: str) -> None:
        if shutil.which("xclip") is None:
            raise RuntimeError("xclip is not installed (Debian package xclip)")
        self.env = {**os.environ, "DISPLAY": display}

    def get_text(self) -> str | None:
        result = subprocess.run(
            ["xclip", "-selection", "clipboard", "-o", "-t", "UTF8_STRING"],
            env=self.env,
            capture_output=True,
            timeout=5,
            check=False,
        )
        if result.returncode != 0:
            return None
        return result.stdout[:MAX_READ].decode("utf-8", errors="replace")

    def sequence(self) -> int | None:
        return None  # unknown: the sync layer reads the selection on every poll

    def set_text(self, text: str) -> None:
        subprocess.run(
            ["xclip", "-selection", "clipboard", "-i"],
            input=text.encode(),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        )

    def close(self) -> None:
        pass  # xclip processes end by themselves
