# mypy: ignore-errors
"""TEMPORARY stand-in for `jiseki agent service` (the real command is being written on main): a Windows
service that reports RUNNING and stops when told, and `--cleanup`. Only for testing the MSI under
Wine on the msi branch; removed before the branch is merged."""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sys
import threading
from typing import Any

from .context import Context
from .options import command


def run(args: argparse.Namespace, ctx: Context) -> int:
    if sys.platform != "win32":
        print("jiseki: the service runs on Windows only", file=sys.stderr)
        return 2
    if args.cleanup:
        return _cleanup()
    return _serve()


def _cleanup() -> int:
    assert sys.platform == "win32"
    import winreg

    shutil.rmtree(os.path.join(os.environ.get("ProgramData", r"C:\ProgramData"), "jiseki"), ignore_errors=True)
    try:
        winreg.DeleteKeyEx(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\jiseki\Agent", winreg.KEY_WOW64_64KEY, 0)
    except OSError:
        pass
    return 0


def _serve() -> int:
    assert sys.platform == "win32"
    from ctypes import wintypes

    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    service_main_type = ctypes.WINFUNCTYPE(None, wintypes.DWORD, ctypes.POINTER(wintypes.LPWSTR))
    handler_type = ctypes.WINFUNCTYPE(wintypes.DWORD, wintypes.DWORD, wintypes.DWORD, wintypes.LPVOID, wintypes.LPVOID)

    class TableEntry(ctypes.Structure):
        _fields_ = [("name", wintypes.LPWSTR), ("proc", service_main_type)]

    class Status(ctypes.Structure):
        _fields_ = [
            ("type", wintypes.DWORD),
            ("state", wintypes.DWORD),
            ("accepted", wintypes.DWORD),
            ("exit_code", wintypes.DWORD),
            ("specific_exit_code", wintypes.DWORD),
            ("check_point", wintypes.DWORD),
            ("wait_hint", wintypes.DWORD),
        ]

    advapi32.RegisterServiceCtrlHandlerExW.restype = ctypes.c_void_p
    advapi32.RegisterServiceCtrlHandlerExW.argtypes = [wintypes.LPCWSTR, handler_type, wintypes.LPVOID]
    advapi32.SetServiceStatus.argtypes = [ctypes.c_void_p, ctypes.POINTER(Status)]
    stop = threading.Event()
    handle: list[Any] = [None]

    def set_state(state: int) -> None:
        status = Status(0x10, state, 0x1 | 0x4 if state == 4 else 0, 0, 0, 0, 0)
        advapi32.SetServiceStatus(handle[0], ctypes.byref(status))

    def on_control(control: int, _event: int, _data: Any, _context: Any) -> int:
        if control in (1, 5):  # stop, shutdown
            set_state(3)
            stop.set()
        return 0

    def service_main(_argc: int, _argv: Any) -> None:
        handle[0] = advapi32.RegisterServiceCtrlHandlerExW("jiseki-agent", handler, None)
        set_state(4)  # running
        stop.wait()
        set_state(1)  # stopped

    handler = handler_type(on_control)
    main = service_main_type(service_main)
    table = (TableEntry * 2)(TableEntry("jiseki-agent", main), TableEntry(None, service_main_type()))
    if not advapi32.StartServiceCtrlDispatcherW(table):
        print(f"jiseki: not started as a service ({ctypes.get_last_error()})", file=sys.stderr)
        return 1
    return 0


def register(commands: Any) -> None:
    p = command(commands, "service", "TEMPORARY stand-in: the Windows service", run)
    p.add_argument("--cleanup", action="store_true", help="remove %%ProgramData%%\\jiseki and the registry key")
