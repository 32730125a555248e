"""The selftest's probe window on Windows (`selftest.window.ProbeWindow`): a topmost window of one
colour that records the keys, characters, button presses and wheel turns it receives.

Keys are reported as the scancode Windows put in lParam (bits 16-23, extended flag bit 24) turned
back into a HID usage, plus the virtual key in wParam, so the selftest compares what it injected
with what an application really got. Documented APIs: CreateWindowExW (`win32/window.py`),
CreateSolidBrush, BeginPaint/FillRect/EndPaint, InvalidateRect, UpdateWindow, GdiFlush, GetPixel,
ClientToScreen, SetForegroundWindow, SetFocus, GetForegroundWindow, AttachThreadInput.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable

from jiseki.protocol import Rect

from ..input.hid_scancode import HID_TO_SCANCODE, HID_TO_VIRTUAL_KEY, KEYBOARD_PAGE
from ..win32 import window as win32
from ..win32.abi import BOOL, DWORD, HANDLE, POINT, RECT
from ..win32.window import WindowThread
from .window import Click, KeyEvent

PROBE_CLASS = "JisekiProbe"
WM_PAINT = 0x000F
WM_ERASEBKGND = 0x0014
WM_KEYDOWN = 0x0100
WM_KEYUP = 0x0101
WM_CHAR = 0x0102
WM_SYSKEYDOWN = 0x0104
WM_SYSKEYUP = 0x0105
WM_SYSCHAR = 0x0106
WM_LBUTTONDOWN = 0x0201
WM_RBUTTONDOWN = 0x0204
WM_MBUTTONDOWN = 0x0207
WM_MOUSEWHEEL = 0x020A
WM_XBUTTONDOWN = 0x020B
WM_MOUSEHWHEEL = 0x020E
SM_XVIRTUALSCREEN = 76
SM_YVIRTUALSCREEN = 77
CLR_INVALID = 0xFFFFFFFF
# Click.button numbers: X11's (1 left, 2 middle, 3 right, 8 back, 9 forward)
_BUTTONS = {WM_LBUTTONDOWN: 1, WM_MBUTTONDOWN: 2, WM_RBUTTONDOWN: 3}
_XBUTTONS = {1: 8, 2: 9}
KEY_SETTLE = 0.05  # keys(): quiet this long means nothing more is in flight...
KEY_WAIT = 0.5  # ...and waiting stops after this long in any case
FILL_WAIT = 1.0  # fill(): how long to wait for the screen to show the colour (a DWM frame or two)


def _scancode_to_usage() -> dict[int, int]:
    usages: dict[int, int] = {}
    for usage_id, code in HID_TO_SCANCODE.items():
        usages.setdefault(code, KEYBOARD_PAGE << 16 | usage_id)  # 0x2B: Backslash, not Non-US #
    for usage_id, (_vk, code) in HID_TO_VIRTUAL_KEY.items():
        usages.setdefault(code, KEYBOARD_PAGE << 16 | usage_id)
    return usages


SCANCODE_TO_USAGE = _scancode_to_usage()


def key_event(msg: int, wparam: int, lparam: int) -> KeyEvent:
    """What a WM_(SYS)KEYDOWN/UP says: lParam bits 16-23 the scancode, bit 24 the E0 prefix."""
    code = (lparam >> 16) & 0xFF
    native = 0xE000 | code if lparam >> 24 & 1 else code
    down = msg in (WM_KEYDOWN, WM_SYSKEYDOWN)
    return KeyEvent(SCANCODE_TO_USAGE.get(native, 0), down, native, wparam & 0xFFFF)


def _signed16(value: int) -> int:
    value &= 0xFFFF
    return value - 0x10000 if value & 0x8000 else value


class PAINTSTRUCT(ctypes.Structure):
    _fields_ = (
        ("hdc", HANDLE),
        ("fErase", BOOL),
        ("rcPaint", RECT),
        ("fRestore", BOOL),
        ("fIncUpdate", BOOL),
        ("rgbReserved", ctypes.c_ubyte * 32),
    )


def _prototypes(api: win32.Win32Api) -> None:
    u, g = api.user32, api.gdi32
    for name, restype, argtypes in (
        (u.BeginPaint, HANDLE, (HANDLE, ctypes.POINTER(PAINTSTRUCT))),
        (u.EndPaint, BOOL, (HANDLE, ctypes.POINTER(PAINTSTRUCT))),
        (u.FillRect, ctypes.c_int, (HANDLE, ctypes.POINTER(RECT), HANDLE)),
        (u.InvalidateRect, BOOL, (HANDLE, ctypes.c_void_p, BOOL)),
        (u.UpdateWindow, BOOL, (HANDLE,)),
        (u.ClientToScreen, BOOL, (HANDLE, ctypes.POINTER(POINT))),
        (u.SetForegroundWindow, BOOL, (HANDLE,)),
        (u.SetFocus, HANDLE, (HANDLE,)),
        (u.GetForegroundWindow, HANDLE, ()),
        (u.GetWindowThreadProcessId, DWORD, (HANDLE, ctypes.c_void_p)),
        (u.AttachThreadInput, BOOL, (DWORD, DWORD, BOOL)),
        (u.BringWindowToTop, BOOL, (HANDLE,)),
        (u.GetSystemMetrics, ctypes.c_int, (ctypes.c_int,)),
        (u.GetDC, HANDLE, (HANDLE,)),
        (u.ReleaseDC, ctypes.c_int, (HANDLE, HANDLE)),
        (g.CreateSolidBrush, HANDLE, (DWORD,)),
        (g.DeleteObject, BOOL, (HANDLE,)),
        (g.GdiFlush, BOOL, ()),
        (g.GetPixel, DWORD, (HANDLE, ctypes.c_int, ctypes.c_int)),
    ):
        name.restype = restype
        name.argtypes = argtypes


class Win32ProbeWindow:
    """A topmost popup window at `rect` (virtual-desktop pixels, as the capture counts them)."""

    def __init__(self, rect: Rect, title: str = "jiseki selftest") -> None:
        self.api = win32.api()  # OSError off Windows
        _prototypes(self.api)
        self.rect = rect
        user32 = self.api.user32
        # Screen coordinates start at the primary monitor; the virtual desktop's corner may be left of it.
        self._origin = (user32.GetSystemMetrics(SM_XVIRTUALSCREEN), user32.GetSystemMetrics(SM_YVIRTUALSCREEN))
        self._brush = int(self.api.gdi32.CreateSolidBrush(0))
        self._colour = 0
        self._changed = threading.Condition()
        self._keys: list[tuple[float, KeyEvent]] = []
        self._units: list[int] = []  # UTF-16 code units of WM_CHAR
        self._clicks: list[Click] = []
        self._wheel: list[tuple[str, int]] = []
        self._last = 0.0  # perf_counter of the last input message
        self.api.register_class(PROBE_CLASS)
        self._thread = WindowThread("probe-window").start()
        try:
            self.hwnd = self._thread.create_window(
                PROBE_CLASS,
                rect=(rect.x + self._origin[0], rect.y + self._origin[1], rect.w, rect.h),
                style=win32.WS_POPUP | win32.WS_VISIBLE,
                ex_style=win32.WS_EX_TOPMOST | win32.WS_EX_TOOLWINDOW,
                title=title,
                handler=self._on_message,
            )
        except BaseException:
            self._thread.stop()
            raise

    # --- the window thread -------------------------------------------------------------------
    def _on_message(self, hwnd: int, msg: int, wparam: int, lparam: int) -> int | None:
        now = time.perf_counter()
        if msg == WM_ERASEBKGND:
            return 1  # WM_PAINT fills everything: no flicker through another colour
        if msg == WM_PAINT:
            paint = PAINTSTRUCT()
            hdc = self.api.user32.BeginPaint(hwnd, ctypes.byref(paint))
            self.api.user32.FillRect(hdc, ctypes.byref(paint.rcPaint), self._brush)
            self.api.user32.EndPaint(hwnd, ctypes.byref(paint))
            return 0
        if msg in (WM_KEYDOWN, WM_KEYUP, WM_SYSKEYDOWN, WM_SYSKEYUP):
            self._record(lambda: self._keys.append((now, key_event(msg, wparam, lparam))), now)
            return 0  # not DefWindowProc: Alt+F4 or F10 must not act on the probe
        if msg == WM_CHAR:
            self._record(lambda: self._units.append(wparam & 0xFFFF), now)
            return 0
        if msg == WM_SYSCHAR:
            return 0  # no beep for Alt+letter
        if msg in _BUTTONS or msg == WM_XBUTTONDOWN:
            point = POINT(_signed16(lparam), _signed16(lparam >> 16))
            self.api.user32.ClientToScreen(hwnd, ctypes.byref(point))
            button = _BUTTONS.get(msg) or _XBUTTONS.get(wparam >> 16 & 0xFFFF, 0)
            click = Click(point.x - self._origin[0], point.y - self._origin[1], button)
            self._record(lambda: self._clicks.append(click), now)
            return 0 if msg != WM_XBUTTONDOWN else 1  # WM_XBUTTONDOWN wants TRUE when handled
        if msg in (WM_MOUSEWHEEL, WM_MOUSEHWHEEL):
            axis = "y" if msg == WM_MOUSEWHEEL else "x"
            self._record(lambda: self._wheel.append((axis, _signed16(wparam >> 16))), now)
            return 0
        if msg == win32.WM_CLOSE:
            return 0  # only close() ends the probe
        return None

    def _record(self, add: Callable[[], None], now: float) -> None:
        with self._changed:
            add()
            self._last = now
            self._changed.notify_all()

    # --- ProbeWindow ---------------------------------------------------------------------------
    def fill(self, bgr: tuple[int, int, int]) -> None:
        blue, green, red = bgr
        colour = red | green << 8 | blue << 16  # COLORREF is 0x00BBGGRR

        def paint() -> None:
            old = self._brush
            self._brush = int(self.api.gdi32.CreateSolidBrush(colour))
            self._colour = colour
            self.api.gdi32.DeleteObject(old)
            self.api.user32.InvalidateRect(self.hwnd, None, False)
            self.api.user32.UpdateWindow(self.hwnd)  # WM_PAINT now, not when the queue is empty
            self.api.gdi32.GdiFlush()  # GDI batches calls per thread

        self._thread.call(paint)
        # With desktop composition the screen shows it a frame later: wait until the centre has it.
        deadline = time.monotonic() + FILL_WAIT
        while self.screen_pixel(self.rect.x + self.rect.w // 2, self.rect.y + self.rect.h // 2) != colour:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    def screen_pixel(self, x: int, y: int) -> int:
        """The COLORREF on the screen at (x, y) in virtual-desktop pixels."""
        user32 = self.api.user32
        hdc = user32.GetDC(None)
        try:
            return int(self.api.gdi32.GetPixel(hdc, x + self._origin[0], y + self._origin[1]))
        finally:
            user32.ReleaseDC(None, hdc)

    def focus(self) -> bool:
        user32 = self.api.user32

        def bring() -> bool:
            # Windows lets only the foreground thread give the foreground away: share its input state
            # for the moment (the documented AttachThreadInput route).
            own = self._thread.thread_id
            other = int(user32.GetWindowThreadProcessId(user32.GetForegroundWindow(), None))
            attached = bool(other and other != own and user32.AttachThreadInput(own, other, True))
            try:
                user32.BringWindowToTop(self.hwnd)
                user32.SetForegroundWindow(self.hwnd)
                user32.SetFocus(self.hwnd)
            finally:
                if attached:
                    user32.AttachThreadInput(own, other, False)
            return bool(user32.GetForegroundWindow() == self.hwnd)

        return self._thread.call(bring)

    def _settle(self) -> None:
        """Wait until no input message came for KEY_SETTLE (at most KEY_WAIT)."""
        start = time.perf_counter()
        with self._changed:
            while True:
                now = time.perf_counter()
                quiet = now - max(self._last, start)
                if quiet >= KEY_SETTLE or now - start >= KEY_WAIT:
                    return
                self._changed.wait(KEY_SETTLE - quiet)

    def timed_keys(self) -> list[tuple[float, KeyEvent]]:
        """keys(), each with the time.perf_counter() at which its message was handled."""
        self._settle()
        with self._changed:
            got, self._keys = self._keys, []
        return got

    def keys(self) -> list[KeyEvent]:
        return [event for _t, event in self.timed_keys()]

    def wait_keys(self, count: int, timeout: float = 2.0) -> list[tuple[float, KeyEvent]]:
        """Wait until `count` key events are in (or `timeout`), then take them like timed_keys()."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._keys) >= count, timeout)
            got, self._keys = self._keys, []
        return got

    def clicks(self) -> list[Click]:
        self._settle()
        with self._changed:
            got, self._clicks = self._clicks, []
        return got

    def wheel(self) -> list[tuple[str, int]]:
        """Wheel messages since the last call: ("y" or "x", delta; +120 a notch up or right)."""
        self._settle()
        with self._changed:
            got, self._wheel = self._wheel, []
        return got

    def text(self) -> str:
        self._settle()
        with self._changed:
            units = self._units
            # A high surrogate whose low half has not come yet waits for the next call.
            keep = 1 if units and 0xD800 <= units[-1] <= 0xDBFF else 0
            take, self._units = units[: len(units) - keep], units[len(units) - keep :]
        data = b"".join(u.to_bytes(2, "little") for u in take)
        return data.decode("utf-16-le", errors="replace")

    def close(self) -> None:
        self._thread.stop()
        self.api.gdi32.DeleteObject(self._brush)
