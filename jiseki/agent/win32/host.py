"""ctypes binding of the Win32 calls `host.windows.WindowsHostControl` needs (Windows only).

Documented APIs: LockWorkStation, BlockInput, SetWindowDisplayAffinity, EnumDisplayMonitors,
RegisterClassExW, CreateWindowExW, ShowWindow, DestroyWindow; WTSQuerySessionInformationW and
WTSFreeMemory (wtsapi32) for the session's user and lock state. The curtain windows are owned by a
dedicated thread that runs their message loop (`win32/window.py`). Run under Wine by tests/wine.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable
from ctypes import wintypes
from typing import Any

from . import window

log = logging.getLogger(__name__)

CURTAIN_CLASS = "JisekiCurtain"

WTS_CURRENT_SESSION = 0xFFFFFFFF
WTS_USER_NAME = 5  # WTS_INFO_CLASS values
WTS_DOMAIN_NAME = 7
WTS_SESSION_INFO_EX = 25
# SessionFlags of WTSINFOEX_LEVEL1_W. (Windows 7 / Server 2008 R2 report them the other way round;
# the agent targets Windows 10/11.)
WTS_SESSIONSTATE_LOCK = 0
WTS_SESSIONSTATE_UNLOCK = 1


class WTSINFOEX_LEVEL1_W(ctypes.Structure):
    _fields_ = [
        ("SessionId", wintypes.ULONG),
        ("SessionState", ctypes.c_int),
        ("SessionFlags", wintypes.LONG),
        ("WinStationName", wintypes.WCHAR * 33),
        ("UserName", wintypes.WCHAR * 21),
        ("DomainName", wintypes.WCHAR * 18),
        ("LogonTime", wintypes.LARGE_INTEGER),
        ("ConnectTime", wintypes.LARGE_INTEGER),
        ("DisconnectTime", wintypes.LARGE_INTEGER),
        ("LastInputTime", wintypes.LARGE_INTEGER),
        ("CurrentTime", wintypes.LARGE_INTEGER),
        ("IncomingBytes", wintypes.DWORD),
        ("OutgoingBytes", wintypes.DWORD),
        ("IncomingFrames", wintypes.DWORD),
        ("OutgoingFrames", wintypes.DWORD),
        ("IncomingCompressedBytes", wintypes.DWORD),
        ("OutgoingCompressedBytes", wintypes.DWORD),
    ]


class WTSINFOEX_LEVEL_W(ctypes.Union):
    _fields_ = [("WTSInfoExLevel1", WTSINFOEX_LEVEL1_W)]


class WTSINFOEXW(ctypes.Structure):
    _fields_ = [("Level", wintypes.DWORD), ("Data", WTSINFOEX_LEVEL_W)]


# typeshed declares ctypes.WinDLL, ctypes.WINFUNCTYPE and wintypes.WNDCLASSW on Windows only: the
# ignores below let mypy check this module on Linux ("unused-ignore": and on Windows).
class Win32Host:
    def __init__(self, session: Callable[[], int | None] | None = None) -> None:
        """`session`: which session's user and lock state to report (the service asks for the
        console's); None: the agent's own session."""
        if sys.platform != "win32":
            raise OSError("the Win32 host backend runs on Windows only")
        self.user32: Any = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self.gdi32: Any = ctypes.WinDLL("gdi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self.kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self.wtsapi32: Any = ctypes.WinDLL("wtsapi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self._curtain: window.WindowThread | None = None  # owns the curtain windows while they exist
        self._session: Any = session

    def lock_workstation(self) -> bool:
        return bool(self.user32.LockWorkStation())

    def block_input(self, block: bool) -> bool:
        return bool(self.user32.BlockInput(bool(block)))

    def _session_info(self, info_class: int) -> tuple[Any, int] | None:
        """The buffer WTSQuerySessionInformationW returns (free it with WTSFreeMemory) and its size."""
        session = WTS_CURRENT_SESSION if self._session is None else self._session()
        if session is None:
            return None  # the console is being switched: nobody to report
        buffer, size = ctypes.c_void_p(), wintypes.DWORD()
        ok = self.wtsapi32.WTSQuerySessionInformationW(
            None, wintypes.DWORD(session), info_class, ctypes.byref(buffer), ctypes.byref(size)
        )
        return (buffer, size.value) if ok and buffer.value else None

    def _session_text(self, info_class: int) -> str:
        got = self._session_info(info_class)
        if got is None:
            return ""
        buffer, _size = got
        try:
            return ctypes.wstring_at(buffer.value)
        finally:
            self.wtsapi32.WTSFreeMemory(buffer)

    def session_user(self) -> tuple[str, str] | None:
        name = self._session_text(WTS_USER_NAME)
        return (self._session_text(WTS_DOMAIN_NAME), name) if name else None

    def session_locked(self) -> bool | None:
        got = self._session_info(WTS_SESSION_INFO_EX)
        if got is None:
            return None
        buffer, size = got
        try:
            if size < ctypes.sizeof(WTSINFOEXW):
                return None
            info = ctypes.cast(buffer, ctypes.POINTER(WTSINFOEXW)).contents
            if info.Level != 1:
                return None
            flags = info.Data.WTSInfoExLevel1.SessionFlags
            return True if flags == WTS_SESSIONSTATE_LOCK else False if flags == WTS_SESSIONSTATE_UNLOCK else None
        finally:
            self.wtsapi32.WTSFreeMemory(buffer)

    def set_display_affinity(self, hwnd: int, affinity: int) -> bool:
        return bool(self.user32.SetWindowDisplayAffinity(wintypes.HWND(hwnd), wintypes.DWORD(affinity)))

    def destroy_window(self, hwnd: int) -> bool:
        """Destroy a curtain window (on its own thread); with the last one the thread ends too."""
        thread = self._curtain
        if thread is None or not thread.alive:
            return False
        done = thread.destroy_window(hwnd)
        if not thread.windows():
            thread.stop()
            self._curtain = None
        return done

    def _monitors(self) -> list[tuple[int, int, int, int]]:
        rects: list[tuple[int, int, int, int]] = []
        proc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined,unused-ignore]
            wintypes.BOOL, wintypes.HMONITOR, wintypes.HDC, ctypes.POINTER(wintypes.RECT), wintypes.LPARAM
        )

        def collect(_hmon: Any, _hdc: Any, rect: Any, _data: Any) -> bool:
            r = rect.contents
            rects.append((r.left, r.top, r.right - r.left, r.bottom - r.top))
            return True

        self.user32.EnumDisplayMonitors(None, None, proc_type(collect), 0)
        return rects

    def show_windows(self, handles: list[int]) -> bool:
        """Show the (hidden) curtain windows, painted before this returns."""
        thread = self._curtain
        if thread is None or not thread.alive:
            return False

        user32 = thread.api.user32

        def show() -> bool:
            for hwnd in handles:
                user32.ShowWindow(hwnd, window.SW_SHOWNOACTIVATE)
                user32.UpdateWindow(hwnd)  # painted before this returns, not when idle
            return True

        return thread.call(show)

    def create_curtain_windows(self) -> list[int]:
        """One topmost black window per monitor, hidden until `show_windows`, owned by a thread of their
        own ("curtain")."""
        if self._curtain is not None:
            self._curtain.stop()
        win = window.api()
        win.register_class(CURTAIN_CLASS, background=int(win.gdi32.GetStockObject(window.BLACK_BRUSH)))
        thread = self._curtain = window.WindowThread("curtain").start()
        handles: list[int] = []
        for rect in self._monitors():
            try:
                handles.append(
                    thread.create_window(
                        CURTAIN_CLASS,
                        rect=rect,
                        style=window.WS_POPUP,
                        ex_style=window.WS_EX_TOPMOST | window.WS_EX_TOOLWINDOW | window.WS_EX_NOACTIVATE,
                        title="jiseki",
                        handler=_curtain_message,
                    )
                )
            except OSError as exc:
                log.warning("curtain window for monitor %s: %s", rect, exc)
        if not handles:
            thread.stop()
            self._curtain = None
        return handles


def _curtain_message(_hwnd: int, msg: int, _wparam: int, _lparam: int) -> int | None:
    # Alt+F4 at the desk must not take a curtain down: only the agent destroys them.
    return 0 if msg == window.WM_CLOSE else None
