"""The Win32 calls of the Windows input backend (ctypes).

SendInput (KEYEVENTF_SCANCODE, KEYEVENTF_UNICODE, MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK),
GetKeyState, GetSystemMetrics, GetKeyboardLayout, MapVirtualKeyExW, ToUnicodeEx and sas.dll's SendSAS.
The unit tests drive `input.windows.WindowsInput` with a fake `InputApi`; tests/wine runs this class
under Wine, where the injected scan codes are read back from a window's message loop.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .abi import DWORD, LONG, ULONG_PTR, WORD

INPUT_MOUSE = 0
INPUT_KEYBOARD = 1
KEYEVENTF_EXTENDEDKEY = 0x0001
KEYEVENTF_KEYUP = 0x0002
KEYEVENTF_UNICODE = 0x0004
KEYEVENTF_SCANCODE = 0x0008
MOUSEEVENTF_MOVE = 0x0001
MOUSEEVENTF_LEFTDOWN = 0x0002
MOUSEEVENTF_LEFTUP = 0x0004
MOUSEEVENTF_RIGHTDOWN = 0x0008
MOUSEEVENTF_RIGHTUP = 0x0010
MOUSEEVENTF_MIDDLEDOWN = 0x0020
MOUSEEVENTF_MIDDLEUP = 0x0040
MOUSEEVENTF_XDOWN = 0x0080
MOUSEEVENTF_XUP = 0x0100
MOUSEEVENTF_WHEEL = 0x0800
MOUSEEVENTF_HWHEEL = 0x1000
MOUSEEVENTF_VIRTUALDESK = 0x4000
MOUSEEVENTF_ABSOLUTE = 0x8000
XBUTTON1 = 0x0001
XBUTTON2 = 0x0002
WHEEL_DELTA = 120
VK_CAPITAL = 0x14
VK_KANA = 0x15
VK_NUMLOCK = 0x90
VK_SCROLL = 0x91
SM_XVIRTUALSCREEN = 76
SM_YVIRTUALSCREEN = 77
SM_CXVIRTUALSCREEN = 78
SM_CYVIRTUALSCREEN = 79
MAPVK_VSC_TO_VK_EX = 3
TOUNICODE_NO_STATE_CHANGE = 0x4  # Windows 10 1607+: dead keys are not consumed by the query


class MOUSEINPUT(ctypes.Structure):
    _fields_ = (
        ("dx", LONG),
        ("dy", LONG),
        ("mouseData", DWORD),
        ("dwFlags", DWORD),
        ("time", DWORD),
        ("dwExtraInfo", ULONG_PTR),
    )


class KEYBDINPUT(ctypes.Structure):
    _fields_ = (("wVk", WORD), ("wScan", WORD), ("dwFlags", DWORD), ("time", DWORD), ("dwExtraInfo", ULONG_PTR))


class HARDWAREINPUT(ctypes.Structure):
    _fields_ = (("uMsg", DWORD), ("wParamL", WORD), ("wParamH", WORD))


class _INPUTUNION(ctypes.Union):
    _fields_ = (("mi", MOUSEINPUT), ("ki", KEYBDINPUT), ("hi", HARDWAREINPUT))


class INPUT(ctypes.Structure):
    _fields_ = (("type", DWORD), ("u", _INPUTUNION))


@dataclass(frozen=True)
class KeyInput:
    vk: int
    scan: int
    flags: int


@dataclass(frozen=True)
class MouseInput:
    dx: int
    dy: int
    data: int  # wheel delta (signed) or XBUTTON number
    flags: int


def to_struct(event: KeyInput | MouseInput) -> INPUT:
    item = INPUT()
    if isinstance(event, KeyInput):
        item.type = INPUT_KEYBOARD
        item.u.ki = KEYBDINPUT(event.vk, event.scan, event.flags, 0, 0)
    else:
        item.type = INPUT_MOUSE
        item.u.mi = MOUSEINPUT(event.dx, event.dy, event.data & 0xFFFFFFFF, event.flags, 0, 0)
    return item


class InputApi(Protocol):
    """What `WindowsInput` needs from Windows (a fake implements it in the unit tests)."""

    def send(self, events: Sequence[KeyInput | MouseInput]) -> int:
        """SendInput; returns how many events were inserted."""
        ...

    def key_toggled(self, vk: int) -> bool:
        """The toggle state (Caps Lock on...) of a virtual key."""
        ...

    def virtual_screen(self) -> tuple[int, int, int, int]:
        """left, top, width, height of the virtual desktop (all monitors)."""
        ...

    def send_sas(self) -> bool:
        """Ctrl+Alt+Del (the secure attention sequence); False when Windows refused or cannot."""
        ...

    def keyboard_layout(self, scancodes: Sequence[int]) -> tuple[str, dict[int, str]]:
        """The foreground window's layout: a name, and the character each scancode types unshifted."""
        ...


class Win32Input:
    """The real thing (Windows only)."""

    # A ctypes.WinDLL, whose functions are looked up by name at run time; declared here because a
    # type checker on Linux sees the rest of __init__ as unreachable and would not know the attribute.
    _user32: Any

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("the Win32 input backend runs on Windows only")
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        user32.SendInput.argtypes = (ctypes.c_uint, ctypes.POINTER(INPUT), ctypes.c_int)
        user32.SendInput.restype = ctypes.c_uint
        user32.GetKeyState.argtypes = (ctypes.c_int,)
        user32.GetKeyState.restype = ctypes.c_short
        user32.GetSystemMetrics.argtypes = (ctypes.c_int,)
        user32.GetSystemMetrics.restype = ctypes.c_int
        user32.GetForegroundWindow.restype = ctypes.c_void_p
        user32.GetWindowThreadProcessId.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
        user32.GetWindowThreadProcessId.restype = DWORD
        user32.GetKeyboardLayout.argtypes = (DWORD,)
        user32.GetKeyboardLayout.restype = ctypes.c_void_p
        user32.MapVirtualKeyExW.argtypes = (ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p)
        user32.MapVirtualKeyExW.restype = ctypes.c_uint
        user32.ToUnicodeEx.argtypes = (
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_ubyte),
            ctypes.c_wchar_p,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_void_p,
        )
        user32.ToUnicodeEx.restype = ctypes.c_int
        self._user32 = user32

    def send(self, events: Sequence[KeyInput | MouseInput]) -> int:
        if not events:
            return 0
        array = (INPUT * len(events))(*(to_struct(e) for e in events))
        return int(self._user32.SendInput(len(events), array, ctypes.sizeof(INPUT)))

    def key_toggled(self, vk: int) -> bool:
        return bool(self._user32.GetKeyState(vk) & 1)

    def virtual_screen(self) -> tuple[int, int, int, int]:
        m = self._user32.GetSystemMetrics
        return m(SM_XVIRTUALSCREEN), m(SM_YVIRTUALSCREEN), m(SM_CXVIRTUALSCREEN), m(SM_CYVIRTUALSCREEN)

    def send_sas(self) -> bool:
        # Works only from a service running as LocalSystem, or with the "Software Secure Attention
        # Sequence" policy allowing services/applications (SoftwareSASGeneration).
        try:
            sas = ctypes.WinDLL("sas")  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        sas.SendSAS.argtypes = (ctypes.c_int,)
        sas.SendSAS.restype = None
        sas.SendSAS(0)
        return True

    def keyboard_layout(self, scancodes: Sequence[int]) -> tuple[str, dict[int, str]]:
        thread = self._user32.GetWindowThreadProcessId(self._user32.GetForegroundWindow(), None)
        hkl = self._user32.GetKeyboardLayout(thread) or 0
        state = (ctypes.c_ubyte * 256)()
        chars: dict[int, str] = {}
        for sc in scancodes:
            vk = self._user32.MapVirtualKeyExW(sc, MAPVK_VSC_TO_VK_EX, hkl)
            if not vk:
                continue
            buf = ctypes.create_unicode_buffer(8)
            n = self._user32.ToUnicodeEx(vk, sc, state, buf, 8, TOUNICODE_NO_STATE_CHANGE, hkl)
            if n == 1:
                chars[sc] = buf.value[:1]
        return f"{hkl & 0xFFFFFFFF:08X}", chars
