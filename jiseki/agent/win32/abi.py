"""The C types of the Windows x64 ABI (LLP64), fixed width, and the structures every area uses.

ctypes.wintypes follows the C compiler of the machine it runs on: its DWORD and LONG are 8 bytes on
Linux, which would hide layout errors from the unit tests there. These are the same on both."""

from __future__ import annotations

import ctypes

UINT = ctypes.c_uint32
DWORD = ctypes.c_uint32
WORD = ctypes.c_uint16
LONG = ctypes.c_int32
BOOL = ctypes.c_int32
HANDLE = ctypes.c_void_p
ULONG_PTR = ctypes.c_size_t
WPARAM = ctypes.c_size_t
LPARAM = ctypes.c_ssize_t
LRESULT = ctypes.c_ssize_t


class RECT(ctypes.Structure):
    _fields_ = (("left", LONG), ("top", LONG), ("right", LONG), ("bottom", LONG))


class POINT(ctypes.Structure):
    _fields_ = (("x", LONG), ("y", LONG))
