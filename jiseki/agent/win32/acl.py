"""Folder permissions for the agent's secrets (Windows only): %ProgramData%\\jiseki (the private key,
the configuration, the logs) readable and writable by SYSTEM and the Administrators group only.

The DACL is set from SDDL, protected (nothing inherited from ProgramData, which lets every user read)
and inherited by everything inside, existing files included. Documented APIs (advapi32):
ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityDescriptorDacl, SetNamedSecurityInfoW,
GetNamedSecurityInfoW, ConvertSecurityDescriptorToStringSecurityDescriptorW; kernel32 LocalFree.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from .abi import BOOL, DWORD, HANDLE

# P: protected; OICI: files and folders inside inherit; FA: full access; SY: LocalSystem;
# BA: the built-in Administrators group.
SECRETS_SDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
SE_FILE_OBJECT = 1
SE_REGISTRY_KEY = 4  # named "MACHINE\\SOFTWARE\\..."
DACL_SECURITY_INFORMATION = 0x4
PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000
SDDL_REVISION_1 = 1


def _dlls() -> tuple[Any, Any]:
    if sys.platform != "win32":
        raise OSError("ACLs are set on Windows only")
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.argtypes = (
        ctypes.c_wchar_p,
        DWORD,
        ctypes.POINTER(HANDLE),
        ctypes.POINTER(DWORD),
    )
    advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.restype = BOOL
    advapi32.GetSecurityDescriptorDacl.argtypes = (
        HANDLE,
        ctypes.POINTER(BOOL),
        ctypes.POINTER(HANDLE),
        ctypes.POINTER(BOOL),
    )
    advapi32.GetSecurityDescriptorDacl.restype = BOOL
    advapi32.SetNamedSecurityInfoW.argtypes = (ctypes.c_wchar_p, ctypes.c_int, DWORD, HANDLE, HANDLE, HANDLE, HANDLE)
    advapi32.SetNamedSecurityInfoW.restype = DWORD
    advapi32.GetNamedSecurityInfoW.argtypes = (
        ctypes.c_wchar_p,
        ctypes.c_int,
        DWORD,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.POINTER(HANDLE),
    )
    advapi32.GetNamedSecurityInfoW.restype = DWORD
    advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW.argtypes = (
        HANDLE,
        DWORD,
        DWORD,
        ctypes.POINTER(ctypes.c_wchar_p),
        ctypes.c_void_p,
    )
    advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW.restype = BOOL
    kernel32.LocalFree.argtypes = (HANDLE,)
    kernel32.LocalFree.restype = HANDLE
    return advapi32, kernel32


def restrict_to_admins(path: str, sddl: str = SECRETS_SDDL, kind: int = SE_FILE_OBJECT) -> None:
    """Give `path` (a folder, or with SE_REGISTRY_KEY a key) the protected DACL of `sddl`, inherited
    by all it holds."""
    advapi32, kernel32 = _dlls()
    descriptor = HANDLE()
    if not advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
        sddl, SDDL_REVISION_1, ctypes.byref(descriptor), None
    ):
        raise OSError(ctypes.get_last_error(), "ConvertStringSecurityDescriptorToSecurityDescriptorW failed")  # type: ignore[attr-defined,unused-ignore]
    try:
        present, dacl, defaulted = BOOL(), HANDLE(), BOOL()
        if not advapi32.GetSecurityDescriptorDacl(
            descriptor, ctypes.byref(present), ctypes.byref(dacl), ctypes.byref(defaulted)
        ):
            raise OSError(ctypes.get_last_error(), "GetSecurityDescriptorDacl failed")  # type: ignore[attr-defined,unused-ignore]
        info = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION
        error = advapi32.SetNamedSecurityInfoW(path, kind, info, None, None, dacl, None)
        if error:
            raise OSError(error, f"SetNamedSecurityInfoW({path}) failed ({error})")
    finally:
        kernel32.LocalFree(descriptor)


def dacl_sddl(path: str) -> str:
    """The DACL of `path` as SDDL (what the selftest and the Wine test read back)."""
    advapi32, kernel32 = _dlls()
    descriptor = HANDLE()
    error = advapi32.GetNamedSecurityInfoW(
        path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, None, None, None, None, ctypes.byref(descriptor)
    )
    if error:
        raise OSError(error, f"GetNamedSecurityInfoW({path}) failed ({error})")
    try:
        text = ctypes.c_wchar_p()
        if not advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
            descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, ctypes.byref(text), None
        ):
            raise OSError(ctypes.get_last_error(), "ConvertSecurityDescriptorToStringSecurityDescriptorW failed")  # type: ignore[attr-defined,unused-ignore]
        value = text.value or ""
        kernel32.LocalFree(ctypes.cast(text, HANDLE))
        return value
    finally:
        kernel32.LocalFree(descriptor)
