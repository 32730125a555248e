"""ctypes binding of the Win32 calls `windows.WindowsHostControl` needs (Windows only).

Documented APIs: LockWorkStation, BlockInput, SetWindowDisplayAffinity, EnumDisplayMonitors,
RegisterClassExW, CreateWindowExW, ShowWindow, DestroyWindow. The curtain windows are owned by a
dedicated thread that runs their message loop. Not executed on the Linux CI: see windows.py.
"""

from __future__ import annotations

import ctypes
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


class User32Api:  # pragma: no cover - needs Windows
    def __init__(self) -> None:
        self.user32: Any = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined]
        self.gdi32: Any = ctypes.WinDLL("gdi32", use_last_error=True)  # type: ignore[attr-defined]
        self.kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    def lock_workstation(self) -> bool:
        return bool(self.user32.LockWorkStation())

    def block_input(self, block: bool) -> bool:
        return bool(self.user32.BlockInput(bool(block)))

    def set_display_affinity(self, hwnd: int, affinity: int) -> bool:
        return bool(self.user32.SetWindowDisplayAffinity(wintypes.HWND(hwnd), wintypes.DWORD(affinity)))

    def destroy_window(self, hwnd: int) -> bool:
        # Windows must be destroyed by their own thread: ask it to close them.
        return bool(self.user32.PostMessageW(wintypes.HWND(hwnd), WM_CLOSE, 0, 0))

    def _monitors(self) -> list[tuple[int, int, int, int]]:
        rects: list[tuple[int, int, int, int]] = []
        proc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined]
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
            wndproc_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined]
                ctypes.c_ssize_t, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM
            )
            wndproc = wndproc_type(lambda h, m, w, lp: self.user32.DefWindowProcW(h, m, w, lp))
            cls = wintypes.WNDCLASSW()  # type: ignore[attr-defined]
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
