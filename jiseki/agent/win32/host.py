"""ctypes binding of the Win32 calls `host.windows.WindowsHostControl` needs (Windows only).

Documented APIs: LockWorkStation, BlockInput, SetWindowDisplayAffinity, EnumDisplayMonitors,
RegisterClassExW, CreateWindowExW, ShowWindow, DestroyWindow; WTSQuerySessionInformationW and
WTSFreeMemory (wtsapi32) for the session's user and lock state. The curtain windows are owned by a
dedicated thread that runs their message loop. Run under Wine by tests/wine.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from ctypes import wintypes
from typing import Any

WS_POPUP = 0x80000000
WS_EX_TOPMOST = 0x00000008
WS_EX_TOOLWINDOW = 0x00000080
WS_EX_NOACTIVATE = 0x08000000
SW_SHOWNOACTIVATE = 4
BLACK_BRUSH = 4
WM_CLOSE = 0x0010

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
    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("the Win32 host backend runs on Windows only")
        self.user32: Any = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self.gdi32: Any = ctypes.WinDLL("gdi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self.kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self.wtsapi32: Any = ctypes.WinDLL("wtsapi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self._thread: threading.Thread | None = None

    def lock_workstation(self) -> bool:
        return bool(self.user32.LockWorkStation())

    def block_input(self, block: bool) -> bool:
        return bool(self.user32.BlockInput(bool(block)))

    def _session_info(self, info_class: int) -> tuple[Any, int] | None:
        """The buffer WTSQuerySessionInformationW returns (free it with WTSFreeMemory) and its size."""
        buffer, size = ctypes.c_void_p(), wintypes.DWORD()
        ok = self.wtsapi32.WTSQuerySessionInformationW(
            None, wintypes.DWORD(WTS_CURRENT_SESSION), info_class, ctypes.byref(buffer), ctypes.byref(size)
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
        # Windows must be destroyed by their own thread: ask it to close them.
        return bool(self.user32.PostMessageW(wintypes.HWND(hwnd), WM_CLOSE, 0, 0))

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

    def create_curtain_windows(self) -> list[int]:
        handles: list[int] = []
        ready = threading.Event()

        def run() -> None:
            hinstance = self.kernel32.GetModuleHandleW(None)
            wndproc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined,unused-ignore]
                ctypes.c_ssize_t, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
            )
            wndproc = wndproc_type(lambda h, m, w, lp: self.user32.DefWindowProcW(h, m, w, lp))
            cls = wintypes.WNDCLASSW()  # type: ignore[attr-defined,unused-ignore]
            cls.lpfnWndProc = wndproc
            cls.hInstance = hinstance
            cls.hbrBackground = self.gdi32.GetStockObject(BLACK_BRUSH)
            cls.lpszClassName = "JisekiCurtain"
            self.user32.RegisterClassW(ctypes.byref(cls))
            for x, y, w, h in self._monitors():
                hwnd = self.user32.CreateWindowExW(
                    WS_EX_TOPMOST | WS_EX_TOOLWINDOW | WS_EX_NOACTIVATE,
                    "JisekiCurtain",
                    "jiseki",
                    WS_POPUP,
                    x,
                    y,
                    w,
                    h,
                    None,
                    None,
                    hinstance,
                    None,
                )
                if hwnd:
                    self.user32.ShowWindow(hwnd, SW_SHOWNOACTIVATE)
                    handles.append(int(hwnd))
            ready.set()
            msg = wintypes.MSG()
            while self.user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
                self.user32.TranslateMessage(ctypes.byref(msg))
                self.user32.DispatchMessageW(ctypes.byref(msg))

        self._thread = threading.Thread(target=run, name="curtain", daemon=True)
        self._thread.start()
        ready.wait(5)
        return handles
