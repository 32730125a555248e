"""ctypes binding of the Windows clipboard (Unicode text) and its change listener.

Documented APIs: OpenClipboard, CloseClipboard, EmptyClipboard, IsClipboardFormatAvailable,
GetClipboardData / SetClipboardData (CF_UNICODETEXT), GlobalAlloc (GMEM_MOVEABLE), GlobalLock,
GlobalUnlock, GlobalSize, GlobalFree, AddClipboardFormatListener / RemoveClipboardFormatListener
(WM_CLIPBOARDUPDATE, Windows Vista+), GetClipboardSequenceNumber. The listener is a message-only
window on a thread of its own (`win32/window.py`); it is also the clipboard owner our writes name
(SetClipboardData fails after OpenClipboard(NULL) + EmptyClipboard). Run under Wine by tests/wine.
"""

from __future__ import annotations

import ctypes
import threading
import time

from . import window
from .abi import BOOL, DWORD, HANDLE, UINT
from .window import WindowThread

CF_UNICODETEXT = 13
GMEM_MOVEABLE = 0x0002
WM_CLIPBOARDUPDATE = 0x031D
LISTENER_CLASS = "JisekiClipboardListener"
OPEN_TRIES = 10  # another process may hold the clipboard open for a moment...
OPEN_WAIT = 0.02  # ...so try again this long apart


def _prototypes(api: window.Win32Api) -> None:
    u, k = api.user32, api.kernel32
    size_t = ctypes.c_size_t
    for fn, restype, argtypes in (
        (u.OpenClipboard, BOOL, (HANDLE,)),
        (u.CloseClipboard, BOOL, ()),
        (u.EmptyClipboard, BOOL, ()),
        (u.IsClipboardFormatAvailable, BOOL, (UINT,)),
        (u.GetClipboardData, HANDLE, (UINT,)),
        (u.SetClipboardData, HANDLE, (UINT, HANDLE)),
        (u.AddClipboardFormatListener, BOOL, (HANDLE,)),
        (u.RemoveClipboardFormatListener, BOOL, (HANDLE,)),
        (u.GetClipboardSequenceNumber, DWORD, ()),
        (k.GlobalAlloc, HANDLE, (UINT, size_t)),
        (k.GlobalLock, ctypes.c_void_p, (HANDLE,)),
        (k.GlobalUnlock, BOOL, (HANDLE,)),
        (k.GlobalSize, size_t, (HANDLE,)),
        (k.GlobalFree, HANDLE, (HANDLE,)),
    ):
        fn.restype = restype
        fn.argtypes = argtypes


class ClipboardBusy(OSError):
    """Another program kept the clipboard open."""


class Win32Clipboard:
    """The real thing (Windows only). `close()` ends the listener's thread."""

    def __init__(self) -> None:
        self.api = window.api()  # OSError off Windows
        _prototypes(self.api)
        self._changes = 0
        self._changed = threading.Condition()
        self.api.register_class(LISTENER_CLASS)
        self._thread = WindowThread("clipboard").start()
        try:
            self.hwnd = self._thread.create_message_window(LISTENER_CLASS, self._on_message)
            self.listening = self._thread.call(lambda: bool(self.api.user32.AddClipboardFormatListener(self.hwnd)))
        except BaseException:
            self._thread.stop()
            raise

    def _on_message(self, _hwnd: int, msg: int, _wparam: int, _lparam: int) -> int | None:
        if msg != WM_CLIPBOARDUPDATE:
            return None
        with self._changed:
            self._changes += 1
            self._changed.notify_all()
        return 0

    def changes(self) -> int:
        """A counter that moves when the clipboard changes (WM_CLIPBOARDUPDATE; without the listener
        the system's GetClipboardSequenceNumber)."""
        if not self.listening:
            return int(self.api.user32.GetClipboardSequenceNumber())
        with self._changed:
            return self._changes

    def wait_change(self, seen: int, timeout: float) -> bool:
        """Wait until `changes()` differs from `seen`; False on timeout."""
        deadline = time.monotonic() + timeout
        if not self.listening:
            while self.changes() == seen:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)
            return True
        with self._changed:
            return self._changed.wait_for(lambda: self._changes != seen, timeout)

    def _open(self) -> None:
        for attempt in range(OPEN_TRIES):
            if self.api.user32.OpenClipboard(self.hwnd):
                return
            if attempt + 1 < OPEN_TRIES:
                time.sleep(OPEN_WAIT)
        raise ClipboardBusy("the clipboard is held open by another program")

    def get_unicode(self, max_units: int) -> str | None:
        """CF_UNICODETEXT up to its NUL, at most `max_units` UTF-16 units; None when there is none."""
        user32, kernel32 = self.api.user32, self.api.kernel32
        if not user32.IsClipboardFormatAvailable(CF_UNICODETEXT):
            return None
        self._open()
        try:
            handle = user32.GetClipboardData(CF_UNICODETEXT)
            if not handle:
                return None
            units = min(int(kernel32.GlobalSize(handle)) // 2, max_units)
            pointer = kernel32.GlobalLock(handle)
            if not pointer:
                return None
            try:
                text = ctypes.wstring_at(pointer, units)
            finally:
                kernel32.GlobalUnlock(handle)
        finally:
            user32.CloseClipboard()
        end = text.find("\0")
        return text if end < 0 else text[:end]

    def set_unicode(self, text: str) -> bool:
        user32, kernel32 = self.api.user32, self.api.kernel32
        data = text.encode("utf-16-le", errors="surrogatepass") + b"\0\0"
        handle = kernel32.GlobalAlloc(GMEM_MOVEABLE, len(data))
        if not handle:
            return False
        pointer = kernel32.GlobalLock(handle)
        if not pointer:
            kernel32.GlobalFree(handle)
            return False
        ctypes.memmove(pointer, data, len(data))
        kernel32.GlobalUnlock(handle)
        try:
            self._open()
        except ClipboardBusy:
            kernel32.GlobalFree(handle)
            raise
        try:
            user32.EmptyClipboard()  # makes self.hwnd the owner
            if user32.SetClipboardData(CF_UNICODETEXT, handle):
                return True  # the system owns the memory now
            kernel32.GlobalFree(handle)
            return False
        finally:
            user32.CloseClipboard()

    def close(self) -> None:
        if self._thread.alive:
            try:
                self._thread.call(lambda: self.api.user32.RemoveClipboardFormatListener(self.hwnd))
            except (OSError, TimeoutError):
                pass
        self._thread.stop()
