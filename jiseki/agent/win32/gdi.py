"""The GDI side of Windows screen capture (ctypes): virtual-screen metrics, monitors, a BitBlt into a
top-down 32-bit DIB section read by numpy without a copy, the cursor's shape, and DPI awareness.

Documented APIs: GetSystemMetrics, GetDC, CreateCompatibleDC, CreateDIBSection, SelectObject, BitBlt,
GdiFlush, EnumDisplayMonitors, GetMonitorInfoW, GetCursorInfo, GetIconInfo, GetObjectW, GetDIBits,
SetProcessDpiAwarenessContext (shcore's SetProcessDpiAwareness and SetProcessDPIAware before it).
The cursor conversions (`masked_rgba`, `unpack_bits`) are pure numpy: DXGI's pointer shapes use them
too. Run under Wine by tests/wine (pixel-exact there); the unit tests read the layouts on Linux.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from .abi import BOOL, DWORD, HANDLE, LONG, POINT, RECT, WORD

log = logging.getLogger(__name__)

SM_XVIRTUALSCREEN = 76
SM_YVIRTUALSCREEN = 77
SM_CXVIRTUALSCREEN = 78
SM_CYVIRTUALSCREEN = 79
SRCCOPY = 0x00CC0020
CAPTUREBLT = 0x40000000  # include layered (translucent) windows
DIB_RGB_COLORS = 0
BI_RGB = 0
MONITORINFOF_PRIMARY = 0x1
CURSOR_SHOWING = 0x1
DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 = -4
PROCESS_PER_MONITOR_DPI_AWARE = 2


class BITMAPINFOHEADER(ctypes.Structure):
    _fields_ = (
        ("biSize", DWORD),
        ("biWidth", LONG),
        ("biHeight", LONG),
        ("biPlanes", WORD),
        ("biBitCount", WORD),
        ("biCompression", DWORD),
        ("biSizeImage", DWORD),
        ("biXPelsPerMeter", LONG),
        ("biYPelsPerMeter", LONG),
        ("biClrUsed", DWORD),
        ("biClrImportant", DWORD),
    )


class BITMAPINFO(ctypes.Structure):
    # Room for a palette: GetDIBits of a monochrome bitmap writes two RGBQUADs after the header.
    _fields_ = (("bmiHeader", BITMAPINFOHEADER), ("bmiColors", DWORD * 256))


class BITMAP(ctypes.Structure):
    _fields_ = (
        ("bmType", LONG),
        ("bmWidth", LONG),
        ("bmHeight", LONG),
        ("bmWidthBytes", LONG),
        ("bmPlanes", WORD),
        ("bmBitsPixel", WORD),
        ("bmBits", ctypes.c_void_p),
    )


class MONITORINFO(ctypes.Structure):
    _fields_ = (("cbSize", DWORD), ("rcMonitor", RECT), ("rcWork", RECT), ("dwFlags", DWORD))


class CURSORINFO(ctypes.Structure):
    _fields_ = (("cbSize", DWORD), ("flags", DWORD), ("hCursor", HANDLE), ("ptScreenPos", POINT))


class ICONINFO(ctypes.Structure):
    _fields_ = (
        ("fIcon", BOOL),
        ("xHotspot", DWORD),
        ("yHotspot", DWORD),
        ("hbmMask", HANDLE),
        ("hbmColor", HANDLE),
    )


@dataclass(frozen=True, slots=True)
class MonitorArea:
    """One monitor in virtual-screen pixels (absolute: the primary monitor's corner is 0, 0)."""

    x: int
    y: int
    w: int
    h: int
    primary: bool


@dataclass(frozen=True, slots=True)
class CursorState:
    handle: int  # 0 when no cursor is shown
    x: int  # screen coordinates of the hotspot
    y: int


@dataclass(frozen=True, slots=True)
class CursorBitmap:
    w: int
    h: int
    hot_x: int
    hot_y: int
    rgba: bytes  # straight alpha


def unpack_bits(data: bytes, w: int, h: int, pitch: int) -> np.ndarray:
    """A 1-bit-per-pixel bitmap (most significant bit first, rows `pitch` bytes apart) as bool (h, w)."""
    rows = np.frombuffer(data, dtype=np.uint8, count=pitch * h).reshape(h, pitch)
    return np.unpackbits(rows, axis=1)[:, :w].astype(bool)


def masked_rgba(color_bgr: np.ndarray, and_mask: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA (h, w, 4) of a cursor without an alpha channel.

    Windows draws such a cursor as (screen AND mask) XOR colour: AND 0 -> the colour; AND 1 and black
    -> transparent; AND 1 and not black -> the screen inverted, which RGBA cannot express. Those
    pixels become black and their transparent neighbours white, so an inverting I-beam stays visible
    on dark and light backgrounds (as other remote desktops draw it)."""
    h, w = and_mask.shape
    bgr = color_bgr[..., :3]
    black = ~bgr.any(axis=2)
    inverted = and_mask & ~black
    out = np.zeros((h, w, 4), dtype=np.uint8)
    opaque = ~and_mask
    out[..., 0] = bgr[..., 2]
    out[..., 1] = bgr[..., 1]
    out[..., 2] = bgr[..., 0]
    out[..., 3] = np.where(opaque, 255, 0)
    out[~opaque, :3] = 0
    if inverted.any():
        around = np.zeros((h + 2, w + 2), dtype=bool)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                around[dy : dy + h, dx : dx + w] |= inverted
        outline = around[1:-1, 1:-1] & and_mask & black
        out[outline] = (255, 255, 255, 255)
        out[inverted] = (0, 0, 0, 255)
    return out


def cursor_rgba(color_bgra: np.ndarray | None, and_mask: np.ndarray, xor_mask: np.ndarray | None = None) -> np.ndarray:
    """RGBA of a cursor from what GetIconInfo gives: a 32-bit colour bitmap whose alpha is used when
    it has any (else the AND mask applies), or for a monochrome cursor (no colour bitmap) the XOR mask
    standing in for the colour (white where set)."""
    if color_bgra is not None and color_bgra[..., 3].any():
        return np.ascontiguousarray(color_bgra[..., [2, 1, 0, 3]])
    if color_bgra is None:
        if xor_mask is None:
            raise ValueError("a monochrome cursor needs its XOR mask")
        color_bgra = np.zeros((*and_mask.shape, 4), dtype=np.uint8)
        color_bgra[xor_mask, :3] = 255
    return masked_rgba(color_bgra, and_mask)


_dpi_done: str | None = None
ERROR_ACCESS_DENIED = 5
E_ACCESSDENIED = 0x80070005
DPI_AWARENESS_NAMES = {0: "unaware", 1: "system", 2: "per-monitor"}


def _current_awareness(user32: Any) -> str:
    getter = getattr(user32, "GetAwarenessFromDpiAwarenessContext", None)
    if getter is None:
        return "already set"
    user32.GetThreadDpiAwarenessContext.restype = ctypes.c_void_p
    getter.argtypes = (ctypes.c_void_p,)
    return "already " + DPI_AWARENESS_NAMES.get(getter(user32.GetThreadDpiAwarenessContext()), "set")


def enable_per_monitor_dpi() -> str:
    """Make the process per-monitor DPI aware (once; later calls return the first answer).

    Without it Windows scales a DPI-unaware process's view: GetSystemMetrics, BitBlt and SendInput's
    coordinates would be in scaled pixels on a 150 % monitor, and captures blurred. Returns which call
    succeeded ("per-monitor-v2", "per-monitor", "system"), or "already <awareness>" when the process
    was set before (python.exe's manifest declares it: the calls then fail with access denied)."""
    global _dpi_done
    if _dpi_done is not None:
        return _dpi_done
    if sys.platform != "win32":
        raise OSError("DPI awareness is a Windows setting")
    user32: Any = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    result: str | None = None
    setter = getattr(user32, "SetProcessDpiAwarenessContext", None)  # Windows 10 1703+
    if setter is not None:
        setter.argtypes = (ctypes.c_void_p,)
        setter.restype = BOOL
        if setter(ctypes.c_void_p(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2)):
            result = "per-monitor-v2"
        elif ctypes.get_last_error() == ERROR_ACCESS_DENIED:  # type: ignore[attr-defined,unused-ignore]
            result = _current_awareness(user32)
        # else ERROR_INVALID_PARAMETER: a Windows (or Wine 8) without V2
    if result is None:
        try:
            shcore: Any = ctypes.WinDLL("shcore")  # type: ignore[attr-defined,unused-ignore]  # Windows 8.1+
            shcore.SetProcessDpiAwareness.restype = ctypes.c_int32
            hr = shcore.SetProcessDpiAwareness(PROCESS_PER_MONITOR_DPI_AWARE) & 0xFFFFFFFF
            result = "per-monitor" if hr == 0 else _current_awareness(user32) if hr == E_ACCESSDENIED else None
        except (OSError, AttributeError):
            pass
    if result is None:
        result = "system" if user32.SetProcessDPIAware() else "unchanged"
    log.info("DPI awareness: %s", result)
    _dpi_done = result
    return result


class ScreenDib:
    """A top-down 32-bit DIB section selected into a memory DC; `pixels` is its memory as (h, w, 4) BGRA."""

    def __init__(self, gdi: Win32Gdi, width: int, height: int) -> None:
        self._gdi = gdi
        self.width, self.height = width, height
        info = BITMAPINFO()
        info.bmiHeader = BITMAPINFOHEADER(ctypes.sizeof(BITMAPINFOHEADER), width, -height, 1, 32, BI_RGB)
        bits = ctypes.c_void_p()
        self._dc = gdi.gdi32.CreateCompatibleDC(gdi.screen_dc)
        self._bitmap = gdi.gdi32.CreateDIBSection(
            gdi.screen_dc, ctypes.byref(info), DIB_RGB_COLORS, ctypes.byref(bits), None, 0
        )
        if not self._dc or not self._bitmap or not bits.value:
            self.close()
            raise OSError(f"CreateDIBSection {width}x{height} failed")
        self._old = gdi.gdi32.SelectObject(self._dc, self._bitmap)
        buffer = (ctypes.c_uint8 * (width * height * 4)).from_address(bits.value)
        self.pixels: np.ndarray = np.frombuffer(memoryview(buffer), dtype=np.uint8).reshape(height, width, 4)

    def blit(self, x: int, y: int, w: int, h: int, src_x: int, src_y: int) -> bool:
        """Copy the screen's (src_x, src_y, w, h) to (x, y) of the DIB."""
        ok = self._gdi.gdi32.BitBlt(self._dc, x, y, w, h, self._gdi.screen_dc, src_x, src_y, SRCCOPY | CAPTUREBLT)
        self._gdi.gdi32.GdiFlush()  # GDI may batch: flush before numpy reads the bits
        return bool(ok)

    def close(self) -> None:
        g = self._gdi.gdi32
        if getattr(self, "_old", None):
            g.SelectObject(self._dc, self._old)
        if self._bitmap:
            g.DeleteObject(self._bitmap)
            self._bitmap = None
        if self._dc:
            g.DeleteDC(self._dc)
            self._dc = None


# typeshed declares ctypes.WinDLL and WINFUNCTYPE on Windows only: the ignores let mypy check this on Linux.
class Win32Gdi:
    """The real thing (Windows only)."""

    user32: Any
    gdi32: Any
    screen_dc: Any

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("the GDI capture backend runs on Windows only")
        self.user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        self.gdi32 = ctypes.WinDLL("gdi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        u, g = self.user32, self.gdi32
        u.GetSystemMetrics.argtypes = (ctypes.c_int,)
        u.GetSystemMetrics.restype = ctypes.c_int
        u.GetDC.argtypes = (HANDLE,)
        u.GetDC.restype = HANDLE
        u.ReleaseDC.argtypes = (HANDLE, HANDLE)
        u.GetMonitorInfoW.argtypes = (HANDLE, ctypes.POINTER(MONITORINFO))
        u.GetCursorInfo.argtypes = (ctypes.POINTER(CURSORINFO),)
        u.GetIconInfo.argtypes = (HANDLE, ctypes.POINTER(ICONINFO))
        g.CreateCompatibleDC.argtypes = (HANDLE,)
        g.CreateCompatibleDC.restype = HANDLE
        g.CreateDIBSection.argtypes = (
            HANDLE,
            ctypes.POINTER(BITMAPINFO),
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_void_p),
            HANDLE,
            DWORD,
        )
        g.CreateDIBSection.restype = HANDLE
        g.SelectObject.argtypes = (HANDLE, HANDLE)
        g.SelectObject.restype = HANDLE
        g.DeleteObject.argtypes = (HANDLE,)
        g.DeleteDC.argtypes = (HANDLE,)
        g.BitBlt.argtypes = (
            HANDLE,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            HANDLE,
            ctypes.c_int,
            ctypes.c_int,
            DWORD,
        )
        g.GetObjectW.argtypes = (HANDLE, ctypes.c_int, ctypes.c_void_p)
        g.GetDIBits.argtypes = (
            HANDLE,
            HANDLE,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.POINTER(BITMAPINFO),
            ctypes.c_uint,
        )
        self.screen_dc = u.GetDC(None)
        if not self.screen_dc:
            raise OSError("GetDC(NULL) failed: no interactive desktop")

    def virtual_screen(self) -> tuple[int, int, int, int]:
        """left, top, width, height of the virtual screen (all monitors)."""
        m = self.user32.GetSystemMetrics
        return m(SM_XVIRTUALSCREEN), m(SM_YVIRTUALSCREEN), m(SM_CXVIRTUALSCREEN), m(SM_CYVIRTUALSCREEN)

    def monitors(self) -> list[MonitorArea]:
        found: list[MonitorArea] = []
        proc_type = ctypes.WINFUNCTYPE(BOOL, HANDLE, HANDLE, ctypes.POINTER(RECT), ctypes.c_ssize_t)  # type: ignore[attr-defined,unused-ignore]

        def collect(hmon: Any, _hdc: Any, _rect: Any, _data: Any) -> int:
            info = MONITORINFO()
            info.cbSize = ctypes.sizeof(MONITORINFO)
            if self.user32.GetMonitorInfoW(hmon, ctypes.byref(info)):
                r = info.rcMonitor
                found.append(
                    MonitorArea(
                        r.left, r.top, r.right - r.left, r.bottom - r.top, bool(info.dwFlags & MONITORINFOF_PRIMARY)
                    )
                )
            return 1

        callback = proc_type(collect)  # kept referenced until EnumDisplayMonitors returns
        self.user32.EnumDisplayMonitors(None, None, callback, 0)
        return found

    def screen_dib(self, width: int, height: int) -> ScreenDib:
        return ScreenDib(self, width, height)

    def cursor_state(self) -> CursorState | None:
        info = CURSORINFO()
        info.cbSize = ctypes.sizeof(CURSORINFO)
        if not self.user32.GetCursorInfo(ctypes.byref(info)):
            return None  # e.g. the secure desktop
        handle = int(info.hCursor or 0) if info.flags & CURSOR_SHOWING else 0
        return CursorState(handle, info.ptScreenPos.x, info.ptScreenPos.y)

    def _bitmap_bgra(self, hbitmap: Any, w: int, h: int) -> np.ndarray | None:
        """Any bitmap as top-down 32-bit BGRA (GetDIBits converts: monochrome gives black/white)."""
        info = BITMAPINFO()
        info.bmiHeader = BITMAPINFOHEADER(ctypes.sizeof(BITMAPINFOHEADER), w, -h, 1, 32, BI_RGB)
        out = np.zeros((h, w, 4), dtype=np.uint8)
        got = self.gdi32.GetDIBits(self.screen_dc, hbitmap, 0, h, out.ctypes.data, ctypes.byref(info), DIB_RGB_COLORS)
        return out if got == h else None

    def cursor_bitmap(self, handle: int) -> CursorBitmap | None:
        """The shape of a cursor (HCURSOR) as straight-alpha RGBA, with its hotspot."""
        icon = ICONINFO()
        if not self.user32.GetIconInfo(HANDLE(handle), ctypes.byref(icon)):
            return None
        try:
            bm = BITMAP()
            if not icon.hbmMask or not self.gdi32.GetObjectW(icon.hbmMask, ctypes.sizeof(BITMAP), ctypes.byref(bm)):
                return None
            w, mask_h = bm.bmWidth, bm.bmHeight
            mask = self._bitmap_bgra(icon.hbmMask, w, mask_h)
            if mask is None:
                return None
            white = mask[..., 0] != 0
            if icon.hbmColor:
                h = mask_h
                color = self._bitmap_bgra(icon.hbmColor, w, h)
                if color is None:
                    return None
                rgba = cursor_rgba(color, white)
            else:  # monochrome: the AND mask above the XOR mask, in one bitmap twice as high
                h = mask_h // 2
                rgba = cursor_rgba(None, white[:h], white[h : 2 * h])
            return CursorBitmap(w, h, int(icon.xHotspot), int(icon.yHotspot), rgba.tobytes())
        finally:
            for bitmap in (icon.hbmMask, icon.hbmColor):
                if bitmap:
                    self.gdi32.DeleteObject(bitmap)

    def close(self) -> None:
        if self.screen_dc:
            self.user32.ReleaseDC(None, self.screen_dc)
            self.screen_dc = None
