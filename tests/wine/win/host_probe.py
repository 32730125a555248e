"""The real WindowsHostControl(Win32Host()) under Wine: curtain windows, lock, session state.

Under Wine SetWindowDisplayAffinity fails, so set_curtain(True) destroys the curtain windows without
ever showing them; the windows are observed between creation and that take-down, and once more with
the affinity faked as granted (the path a real Windows 10 2004+ takes), where they are shown."""

from __future__ import annotations

import ctypes
import time
from typing import Any

from common import main

WS_EX_TOPMOST = 0x00000008
GWL_EXSTYLE = -20


def run() -> dict[str, Any]:
    from jiseki.agent.host.windows import WindowsHostControl
    from jiseki.agent.selftest.win32_window import Win32ProbeWindow
    from jiseki.agent.win32.host import CURTAIN_CLASS, Win32Host
    from jiseki.protocol import Rect

    user32 = ctypes.WinDLL("user32", use_last_error=True)
    user32.GetWindowLongPtrW.restype = ctypes.c_ssize_t
    user32.GetWindowLongPtrW.argtypes = (ctypes.c_void_p, ctypes.c_int)
    user32.IsWindowVisible.argtypes = (ctypes.c_void_p,)
    user32.GetWindowRect.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    user32.GetClassNameW.argtypes = (ctypes.c_void_p, ctypes.c_wchar_p, ctypes.c_int)
    user32.LockWorkStation.restype = ctypes.c_int
    enum_proc = ctypes.WINFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_ssize_t)

    def curtains() -> list[int]:
        found: list[int] = []

        def visit(hwnd: int | None, _l: int) -> int:
            name = ctypes.create_unicode_buffer(64)
            user32.GetClassNameW(hwnd, name, 64)
            if name.value == CURTAIN_CLASS:
                found.append(hwnd or 0)
            return 1

        user32.EnumWindows(enum_proc(visit), 0)
        return found

    width, height = user32.GetSystemMetrics(0), user32.GetSystemMetrics(1)
    # A white window below, so that "black" on the screen means the curtain, not an empty desktop.
    below = Win32ProbeWindow(Rect(0, 0, width, height))
    below.fill((255, 255, 255))
    centre = (width // 2, height // 2)

    def pixel(expect: int) -> int:
        """The screen at the centre once it shows `expect` (Wine hands window contents to X a little
        later), or what it shows after 2 s."""
        deadline = time.monotonic() + 2
        while (got := below.screen_pixel(*centre)) != expect and time.monotonic() < deadline:
            time.sleep(0.02)
        return got

    seen: list[dict[str, Any]] = []

    class Observed(Win32Host):
        grant_affinity = False

        def create_curtain_windows(self) -> list[int]:
            handles = super().create_curtain_windows()
            for hwnd in handles:
                rect = (ctypes.c_long * 4)()
                user32.GetWindowRect(hwnd, rect)
                seen.append(
                    {
                        "visible": bool(user32.IsWindowVisible(hwnd)),
                        "topmost": bool(user32.GetWindowLongPtrW(hwnd, GWL_EXSTYLE) & WS_EX_TOPMOST),
                        "rect": list(rect),
                    }
                )
            seen.append({"pixel": pixel(0xFFFFFF)})  # hidden: the screen still shows the white window
            return handles

        def show_windows(self, handles: list[int]) -> bool:
            shown = super().show_windows(handles)
            seen.append({"shown": [bool(user32.IsWindowVisible(h)) for h in handles], "pixel": pixel(0x000000)})
            return shown

        def set_display_affinity(self, hwnd: int, affinity: int) -> bool:
            real = super().set_display_affinity(hwnd, affinity)
            seen.append({"affinity": real, "error": ctypes.get_last_error()})
            return real or self.grant_affinity

    out: dict[str, Any] = {"white": below.screen_pixel(*centre)}
    try:
        api = Observed()
        host = WindowsHostControl(api)
        out["curtain_on"] = host.set_curtain(True)
        out["created"] = list(seen)
        out["left_after_refusal"] = len(curtains())
        out["thread_after_refusal"] = api._curtain is not None
        out["pixel_after_refusal"] = pixel(0xFFFFFF)
        seen.clear()
        api.grant_affinity = True  # fake-only: what Windows 10 2004+ would do
        out["granted_on"] = host.set_curtain(True)
        out["granted_created"] = list(seen)
        out["granted_open"] = len(curtains())
        out["granted_pixel"] = pixel(0x000000)
        out["curtain_off"] = host.set_curtain(False)
        out["left_after_off"] = len(curtains())
        out["thread_after_off"] = api._curtain is not None
        out["pixel_after_off"] = pixel(0xFFFFFF)
        out["lock"] = host.lock()
        out["lock_error"] = ctypes.get_last_error()
        out["block_input"] = api.block_input(True)
        state = host.state()
        out["user"], out["locked"] = state.user, state.locked
    finally:
        below.close()
    return out


main(run)
