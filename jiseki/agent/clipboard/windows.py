"""Windows clipboard (Unicode text) for `clipboard.sync.ClipboardSync`, which applies the session's
policy exactly as for X11.

The Win32 calls sit behind `ClipboardApi`; `win32.clipboard.Win32Clipboard` is the real one (run
under Wine by tests/wine). Its change listener makes `sequence()` cheap, so the sync layer's poll
reads the clipboard only after something changed. Windows text uses CRLF line ends; the terminal
side uses LF: set_text writes CRLF, get_text gives LF.
"""

from __future__ import annotations

from typing import Protocol

from jiseki.protocol import MAX_CLIPBOARD_BYTES

# More UTF-16 units than UTF-8 bytes never fit (each unit is at least one UTF-8 byte): one unit more
# than the cap keeps an oversized text oversized, so the sync layer refuses it instead of sending a
# silently truncated one.
MAX_UNITS = MAX_CLIPBOARD_BYTES + 1


class ClipboardApi(Protocol):
    def get_unicode(self, max_units: int) -> str | None: ...
    def set_unicode(self, text: str) -> bool: ...
    def changes(self) -> int:
        """A counter that moves whenever the clipboard changes."""
        ...

    def close(self) -> None: ...


class WindowsClipboard:
    def __init__(self, api: ClipboardApi | None = None) -> None:
        if api is None:
            from ..win32.clipboard import Win32Clipboard

            api = Win32Clipboard()
        self.api = api

    def get_text(self) -> str | None:
        text = self.api.get_unicode(MAX_UNITS)
        return None if text is None else text.replace("\r\n", "\n")

    def set_text(self, text: str) -> None:
        self.api.set_unicode(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    def sequence(self) -> int | None:
        return self.api.changes()

    def close(self) -> None:
        self.api.close()
