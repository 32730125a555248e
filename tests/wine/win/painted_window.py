"""A Win32 window of known pixels for the capture tests (Windows side; the X root is not part of
Wine's screen, so the known pixels must come from a window of our own).

Single-threaded: the script pumps the window's messages (`pump`) between its own calls."""

from __future__ import annotations

import ctypes
import time
from ctypes import wintypes

import numpy as np

WS_POPUP = 0x80000000
WS_VISIBLE = 0x10000000
WS_EX_TOPMOST = 0x00000008
WM_PAINT = 0x000F
WM_SETCURSOR = 0x0020
PM_REMOVE = 0x0001
DIB_RGB_COLORS = 0
RDW_INVALIDATE, RDW_UPDATENOW = 0x0001, 0x0100
IDC_ARROW, IDC_IBEAM, IDC_HAND = 32512, 32513, 32649
GCLP_HCURSOR = -12

user32 = ctypes.WinDLL("user32", use_last_error=True)
gdi32 = ctypes.WinDLL("gdi32", use_last_error=True)
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
LRESULT = ctypes.c_ssize_t
WNDPROC = ctypes.WINFUNCTYPE(LRESULT, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM)
user32.DefWindowProcW.argtypes = (wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM)
user32.DefWindowProcW.restype = LRESULT
user32.CreateWindowExW.restype = wintypes.HWND
user32.CreateWindowExW.argtypes = (
    wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD, ctypes.c_int, ctypes.c_int,
    ctypes.c_int, ctypes.c_int, wintypes.HWND, wintypes.HMENU, wintypes.HINSTANCE, wintypes.LPVOID,
)  # fmt: skip
user32.LoadCursorW.argtypes = (wintypes.HINSTANCE, ctypes.c_void_p)
user32.LoadCursorW.restype = ctypes.c_void_p
user32.SetCursor.argtypes = (ctypes.c_void_p,)
user32.SetCursor.restype = ctypes.c_void_p
user32.SetClassLongPtrW.argtypes = (wintypes.HWND, ctypes.c_int, ctypes.c_void_p)
user32.SetClassLongPtrW.restype = ctypes.c_void_p
user32.BeginPaint.argtypes = (wintypes.HWND, ctypes.c_void_p)
user32.BeginPaint.restype = wintypes.HDC
user32.EndPaint.argtypes = (wintypes.HWND, ctypes.c_void_p)
gdi32.SetDIBitsToDevice.argtypes = (
    wintypes.HDC, ctypes.c_int, ctypes.c_int, wintypes.DWORD, wintypes.DWORD, ctypes.c_int, ctypes.c_int,
    wintypes.UINT, wintypes.UINT, ctypes.c_void_p, ctypes.c_void_p, wintypes.UINT,
)  # fmt: skip


class BITMAPINFOHEADER(ctypes.Structure):
    _fields_ = [
        ("biSize", ctypes.c_uint32),
        ("biWidth", ctypes.c_int32),
        ("biHeight", ctypes.c_int32),
        ("biPlanes", ctypes.c_uint16),
        ("biBitCount", ctypes.c_uint16),
        ("biCompression", ctypes.c_uint32),
        ("biSizeImage", ctypes.c_uint32),
        ("biXPelsPerMeter", ctypes.c_int32),
        ("biYPelsPerMeter", ctypes.c_int32),
        ("biClrUsed", ctypes.c_uint32),
        ("biClrImportant", ctypes.c_uint32),
    ]


class WNDCLASSW(ctypes.Structure):  # not in ctypes.wintypes
    _fields_ = [
        ("style", wintypes.UINT),
        ("lpfnWndProc", WNDPROC),
        ("cbClsExtra", ctypes.c_int),
        ("cbWndExtra", ctypes.c_int),
        ("hInstance", wintypes.HINSTANCE),
        ("hIcon", wintypes.HICON),
        ("hCursor", ctypes.c_void_p),
        ("hbrBackground", wintypes.HBRUSH),
        ("lpszMenuName", wintypes.LPCWSTR),
        ("lpszClassName", wintypes.LPCWSTR),
    ]


def test_picture(w: int, h: int, strip: int = 60, swap: bool = False) -> np.ndarray:
    """BGRA: four coloured quadrants above a horizontal gradient strip (`swap`: other colours)."""
    img = np.zeros((h, w, 4), dtype=np.uint8)
    top = h - strip
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 255)]  # BGR: red, green, blue, white
    if swap:
        colours = [(0, 255, 255), (255, 0, 255), (255, 255, 0), (40, 40, 40)]
    for i, (bgr) in enumerate(colours):
        ys = slice(0, top // 2) if i < 2 else slice(top // 2, top)
        xs = slice(0, w // 2) if i % 2 == 0 else slice(w // 2, w)
        img[ys, xs, :3] = bgr
    ramp = (np.arange(w) * 255 // (w - 1)).astype(np.uint8)
    img[top:, :, 0] = ramp
    img[top:, :, 1] = 128 if not swap else 64
    img[top:, :, 2] = 255 - ramp
    return img


class PaintedWindow:
    def __init__(self, x: int, y: int, w: int, h: int) -> None:
        self.x, self.y, self.w, self.h = x, y, w, h
        self.picture = test_picture(w, h)
        self.cursor: int | None = None
        self._proc = WNDPROC(self._wndproc)  # referenced for the window's lifetime
        hinstance = kernel32.GetModuleHandleW(None)
        cls = WNDCLASSW()
        cls.lpfnWndProc = self._proc
        cls.hInstance = hinstance
        cls.lpszClassName = "JisekiPaintedWindow"
        user32.RegisterClassW(ctypes.byref(cls))
        self.hwnd = user32.CreateWindowExW(
            WS_EX_TOPMOST,
            "JisekiPaintedWindow",
            "capture test",
            WS_POPUP | WS_VISIBLE,
            x,
            y,
            w,
            h,
            None,
            None,
            hinstance,
            None,
        )
        if not self.hwnd:
            raise OSError(f"CreateWindowExW failed: {ctypes.get_last_error()}")
        self.pump(0.5)

    def _wndproc(self, hwnd: int, msg: int, wparam: int, lparam: int) -> int:
        if msg == WM_PAINT:
            ps = (ctypes.c_byte * 72)()  # PAINTSTRUCT on x64
            hdc = user32.BeginPaint(hwnd, ps)
            header = BITMAPINFOHEADER(ctypes.sizeof(BITMAPINFOHEADER), self.w, -self.h, 1, 32, 0)
            bits = np.ascontiguousarray(self.picture)
            gdi32.SetDIBitsToDevice(
                hdc, 0, 0, self.w, self.h, 0, 0, 0, self.h, bits.ctypes.data, ctypes.byref(header), DIB_RGB_COLORS
            )
            user32.EndPaint(hwnd, ps)
            return 0
        if msg == WM_SETCURSOR and self.cursor:
            user32.SetCursor(self.cursor)
            return 1
        return int(user32.DefWindowProcW(hwnd, msg, wparam, lparam))

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        msg = wintypes.MSG()
        while True:
            while user32.PeekMessageW(ctypes.byref(msg), None, 0, 0, PM_REMOVE):
                user32.TranslateMessage(ctypes.byref(msg))
                user32.DispatchMessageW(ctypes.byref(msg))
            if time.monotonic() >= end:
                return
            time.sleep(0.01)

    def show(self, picture: np.ndarray) -> None:
        """Paint a new picture now."""
        self.picture = picture
        user32.RedrawWindow(self.hwnd, None, None, RDW_INVALIDATE | RDW_UPDATENOW)
        self.pump(0.3)

    def set_cursor(self, idc: int) -> int:
        """Use a standard cursor over the window and put the mouse there; returns the HCURSOR."""
        handle = int(user32.LoadCursorW(None, ctypes.c_void_p(idc)))
        self.cursor = handle
        user32.SetClassLongPtrW(self.hwnd, GCLP_HCURSOR, ctypes.c_void_p(handle))
        user32.SetCursorPos(self.x + self.w // 2, self.y + self.h // 2)
        self.pump(0.1)
        user32.SetCursorPos(self.x + self.w // 2 + 1, self.y + self.h // 2)  # a move: WM_SETCURSOR again
        self.pump(0.2)
        user32.SetCursor(ctypes.c_void_p(handle))
        return handle

    def close(self) -> None:
        user32.DestroyWindow(self.hwnd)
