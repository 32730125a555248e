"""ctypes binding of the input desktop (Windows only): which desktop gets the keyboard and mouse now
("Default", or "Winlogon" for the lock screen, Ctrl+Alt+Del screen and the UAC prompt's secure
desktop), and moving the calling thread onto it.

A thread can read the screen of, and send input to, only the desktop it is attached to. Opening
Winlogon needs LocalSystem: the worker started by the service has it. SetThreadDesktop fails for a
thread that owns windows or hooks: capture and input run on threads without any (the curtain and
clipboard windows have threads of their own). Documented APIs (user32): OpenInputDesktop,
GetUserObjectInformationW (UOI_NAME), SetThreadDesktop, CloseDesktop. Run under Wine by
tests/wine/test_service_wine.py, where only "Default" exists.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from .abi import BOOL, DWORD, HANDLE

UOI_NAME = 2
DESKTOP_ALL = 0x01FF  # DESKTOP_READOBJECTS ... DESKTOP_SWITCHDESKTOP: what capture and input need
GENERIC_ALL = 0x10000000


class Win32Desktops:
    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("desktops exist on Windows only")
        user32: Any = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        user32.OpenInputDesktop.argtypes = (DWORD, BOOL, DWORD)
        user32.OpenInputDesktop.restype = HANDLE
        user32.GetUserObjectInformationW.argtypes = (
            HANDLE,
            ctypes.c_int,
            ctypes.c_void_p,
            DWORD,
            ctypes.POINTER(DWORD),
        )
        user32.GetUserObjectInformationW.restype = BOOL
        user32.SetThreadDesktop.argtypes = (HANDLE,)
        user32.SetThreadDesktop.restype = BOOL
        user32.CloseDesktop.argtypes = (HANDLE,)
        user32.CloseDesktop.restype = BOOL
        self._user32: Any = user32

    def open_input(self) -> tuple[int, str] | None:
        """(handle, name) of the input desktop, or None when this process may not open it."""
        handle = self._user32.OpenInputDesktop(0, False, GENERIC_ALL)
        if not handle:
            return None
        buffer = ctypes.create_unicode_buffer(256)
        needed = DWORD()
        if not self._user32.GetUserObjectInformationW(
            handle, UOI_NAME, buffer, ctypes.sizeof(buffer), ctypes.byref(needed)
        ):
            self._user32.CloseDesktop(handle)
            return None
        return int(handle), buffer.value

    def set_thread(self, handle: int) -> bool:
        return bool(self._user32.SetThreadDesktop(handle))

    def close(self, handle: int) -> None:
        self._user32.CloseDesktop(handle)
