"""ctypes binding of the Service Control Manager for `jiseki agent service` (Windows only).

`run_as_service` hands the process to the SCM (StartServiceCtrlDispatcherW); the SCM calls back
ServiceMain on a thread of its own, which registers a control handler (RegisterServiceCtrlHandlerExW),
reports RUNNING and runs the agent. The handler turns "stop"/"shutdown" into a call of `on_stop` and
session changes (SERVICE_CONTROL_SESSIONCHANGE: logon, logoff, lock, unlock, console connect) into
`on_session_change(event, session_id)`.

`configure_recovery` sets the failure actions the MSI cannot set (wixl has no ServiceConfig): restart
after 5 s, 10 s, 60 s; the count resets after a day. `query_service` reads a service's state for the
selftest. Documented APIs: advapi32 StartServiceCtrlDispatcherW, RegisterServiceCtrlHandlerExW,
SetServiceStatus, OpenSCManagerW, OpenServiceW, ChangeServiceConfig2W, QueryServiceStatus,
CloseServiceHandle. Run under Wine by tests/wine/test_service_wine.py.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from .abi import BOOL, DWORD, HANDLE

log = logging.getLogger(__name__)

SERVICE_NAME = "jiseki-agent"

SERVICE_WIN32_OWN_PROCESS = 0x10
SERVICE_STOPPED = 1
SERVICE_START_PENDING = 2
SERVICE_STOP_PENDING = 3
SERVICE_RUNNING = 4
SERVICE_ACCEPT_STOP = 0x1
SERVICE_ACCEPT_SHUTDOWN = 0x4
SERVICE_ACCEPT_SESSIONCHANGE = 0x80
SERVICE_CONTROL_STOP = 1
SERVICE_CONTROL_INTERROGATE = 4
SERVICE_CONTROL_SHUTDOWN = 5
SERVICE_CONTROL_SESSIONCHANGE = 14
NO_ERROR = 0
ERROR_CALL_NOT_IMPLEMENTED = 120
ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063  # started from a console, not by the SCM
ERROR_SERVICE_DOES_NOT_EXIST = 1060
SC_MANAGER_CONNECT = 0x0001
SERVICE_QUERY_STATUS = 0x0004
SERVICE_QUERY_CONFIG = 0x0001
SERVICE_CHANGE_CONFIG = 0x0002
SERVICE_START = 0x0010
SERVICE_CONFIG_FAILURE_ACTIONS = 2
SC_ACTION_RESTART = 1

STATE_NAMES = {
    1: "stopped",
    2: "start_pending",
    3: "stop_pending",
    4: "running",
    5: "continue_pending",
    6: "pause_pending",
    7: "paused",
}

WINFUNCTYPE: Any = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)  # stdcall on Windows only
SERVICE_MAIN = WINFUNCTYPE(None, DWORD, ctypes.c_void_p)
HANDLER_EX = WINFUNCTYPE(DWORD, DWORD, DWORD, ctypes.c_void_p, ctypes.c_void_p)


class SERVICE_STATUS(ctypes.Structure):
    _fields_ = (
        ("dwServiceType", DWORD),
        ("dwCurrentState", DWORD),
        ("dwControlsAccepted", DWORD),
        ("dwWin32ExitCode", DWORD),
        ("dwServiceSpecificExitCode", DWORD),
        ("dwCheckPoint", DWORD),
        ("dwWaitHint", DWORD),
    )


class SERVICE_TABLE_ENTRYW(ctypes.Structure):
    _fields_ = (("lpServiceName", ctypes.c_wchar_p), ("lpServiceProc", SERVICE_MAIN))


class WTSSESSION_NOTIFICATION(ctypes.Structure):
    _fields_ = (("cbSize", DWORD), ("dwSessionId", DWORD))


class SC_ACTION(ctypes.Structure):
    _fields_ = (("Type", ctypes.c_int), ("Delay", DWORD))


class SERVICE_FAILURE_ACTIONSW(ctypes.Structure):
    _fields_ = (
        ("dwResetPeriod", DWORD),
        ("lpRebootMsg", ctypes.c_wchar_p),
        ("lpCommand", ctypes.c_wchar_p),
        ("cActions", DWORD),
        ("lpsaActions", ctypes.POINTER(SC_ACTION)),
    )


RESTART_DELAYS_MS = (5_000, 10_000, 60_000)
RESET_PERIOD_S = 24 * 3600


class NotStartedBySCM(OSError):
    """The process was started from a console, not by the Service Control Manager."""


def _advapi32() -> Any:
    if sys.platform != "win32":
        raise OSError("the Service Control Manager exists on Windows only")
    dll = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    dll.StartServiceCtrlDispatcherW.argtypes = (ctypes.POINTER(SERVICE_TABLE_ENTRYW),)
    dll.StartServiceCtrlDispatcherW.restype = BOOL
    dll.RegisterServiceCtrlHandlerExW.argtypes = (ctypes.c_wchar_p, HANDLER_EX, ctypes.c_void_p)
    dll.RegisterServiceCtrlHandlerExW.restype = HANDLE
    dll.SetServiceStatus.argtypes = (HANDLE, ctypes.POINTER(SERVICE_STATUS))
    dll.SetServiceStatus.restype = BOOL
    dll.OpenSCManagerW.argtypes = (ctypes.c_wchar_p, ctypes.c_wchar_p, DWORD)
    dll.OpenSCManagerW.restype = HANDLE
    dll.OpenServiceW.argtypes = (HANDLE, ctypes.c_wchar_p, DWORD)
    dll.OpenServiceW.restype = HANDLE
    dll.CloseServiceHandle.argtypes = (HANDLE,)
    dll.CloseServiceHandle.restype = BOOL
    dll.ChangeServiceConfig2W.argtypes = (HANDLE, DWORD, ctypes.c_void_p)
    dll.ChangeServiceConfig2W.restype = BOOL
    dll.QueryServiceConfig2W.argtypes = (HANDLE, DWORD, ctypes.c_void_p, DWORD, ctypes.POINTER(DWORD))
    dll.QueryServiceConfig2W.restype = BOOL
    dll.QueryServiceStatus.argtypes = (HANDLE, ctypes.POINTER(SERVICE_STATUS))
    dll.QueryServiceStatus.restype = BOOL
    return dll


class ServiceHost:
    """One service in this process: `run` blocks until the service has stopped."""

    def __init__(
        self,
        name: str,
        main: Callable[[], None],
        on_stop: Callable[[], None],
        on_session_change: Callable[[int, int], None],
    ) -> None:
        self.name = name
        self._main = main
        self._on_stop = on_stop
        self._on_session_change = on_session_change
        self._api = _advapi32()
        self._handle: int | None = None
        self._status = SERVICE_STATUS(SERVICE_WIN32_OWN_PROCESS, SERVICE_START_PENDING, 0, NO_ERROR, 0, 0, 3000)
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        # The callbacks must outlive every call the SCM makes: keep references.
        self._service_main = SERVICE_MAIN(self._run_main)
        self._handler = HANDLER_EX(self._control)

    def run(self) -> None:
        table = (SERVICE_TABLE_ENTRYW * 2)(SERVICE_TABLE_ENTRYW(self.name, self._service_main), SERVICE_TABLE_ENTRYW())
        if not self._api.StartServiceCtrlDispatcherW(table):
            error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
            if error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
                raise NotStartedBySCM("not started by the Service Control Manager (use --console to test)")
            raise OSError(error, f"StartServiceCtrlDispatcherW failed ({error})")
        if self.error is not None:
            raise self.error

    def _report(self, state: int, exit_code: int = NO_ERROR, wait_hint: int = 0) -> None:
        with self._lock:
            s = self._status
            s.dwCurrentState = state
            s.dwWin32ExitCode = exit_code
            s.dwWaitHint = wait_hint
            s.dwControlsAccepted = (
                SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_SESSIONCHANGE
                if state == SERVICE_RUNNING
                else 0
            )
            s.dwCheckPoint = 0 if state in (SERVICE_RUNNING, SERVICE_STOPPED) else s.dwCheckPoint + 1
            if self._handle:
                self._api.SetServiceStatus(self._handle, ctypes.byref(s))

    def _run_main(self, _argc: int, _argv: int) -> None:
        self._handle = self._api.RegisterServiceCtrlHandlerExW(self.name, self._handler, None)
        if not self._handle:
            self.error = OSError(ctypes.get_last_error(), "RegisterServiceCtrlHandlerExW failed")  # type: ignore[attr-defined,unused-ignore]
            return
        self._report(SERVICE_RUNNING)
        exit_code = NO_ERROR
        try:
            self._main()
        except BaseException as exc:  # reported to the SCM, which then applies the failure actions
            log.exception("the service stopped on an error")
            self.error = exc
            exit_code = 1066  # ERROR_SERVICE_SPECIFIC_ERROR: "restart on failure" applies
        self._report(SERVICE_STOPPED, exit_code)

    def _control(self, control: int, event_type: int, event_data: int, _context: int) -> int:
        try:
            if control in (SERVICE_CONTROL_STOP, SERVICE_CONTROL_SHUTDOWN):
                self._report(SERVICE_STOP_PENDING, wait_hint=10_000)
                self._on_stop()
            elif control == SERVICE_CONTROL_SESSIONCHANGE and event_data:
                note = WTSSESSION_NOTIFICATION.from_address(event_data)
                self._on_session_change(int(event_type), int(note.dwSessionId))
            elif control != SERVICE_CONTROL_INTERROGATE:
                return ERROR_CALL_NOT_IMPLEMENTED
        except Exception:  # never let an exception cross into the SCM's thread
            log.exception("service control %d failed", control)
        return NO_ERROR


def _open_service(api: Any, name: str, access: int) -> tuple[int, int]:
    scm = api.OpenSCManagerW(None, None, SC_MANAGER_CONNECT)
    if not scm:
        raise OSError(ctypes.get_last_error(), "OpenSCManagerW failed")  # type: ignore[attr-defined,unused-ignore]
    service = api.OpenServiceW(scm, name, access)
    if not service:
        error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
        api.CloseServiceHandle(scm)
        raise OSError(error, f"OpenServiceW({name}) failed ({error})")
    return scm, service


def configure_recovery(name: str = SERVICE_NAME) -> None:
    """Restart the service when it fails (the SCM's failure actions)."""
    api = _advapi32()
    scm, service = _open_service(api, name, SERVICE_CHANGE_CONFIG | SERVICE_START)
    try:
        actions = (SC_ACTION * len(RESTART_DELAYS_MS))(*(SC_ACTION(SC_ACTION_RESTART, d) for d in RESTART_DELAYS_MS))
        info = SERVICE_FAILURE_ACTIONSW(RESET_PERIOD_S, None, None, len(RESTART_DELAYS_MS), actions)
        if not api.ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, ctypes.byref(info)):
            raise OSError(ctypes.get_last_error(), "ChangeServiceConfig2W failed")  # type: ignore[attr-defined,unused-ignore]
    finally:
        api.CloseServiceHandle(service)
        api.CloseServiceHandle(scm)


def query_service(name: str = SERVICE_NAME) -> str:
    """The service's state ("running", "stopped", ...) or "not_installed"."""
    api = _advapi32()
    try:
        scm, service = _open_service(api, name, SERVICE_QUERY_STATUS)
    except OSError as exc:
        if exc.errno == ERROR_SERVICE_DOES_NOT_EXIST:
            return "not_installed"
        raise
    try:
        status = SERVICE_STATUS()
        if not api.QueryServiceStatus(service, ctypes.byref(status)):
            raise OSError(ctypes.get_last_error(), "QueryServiceStatus failed")  # type: ignore[attr-defined,unused-ignore]
        return STATE_NAMES.get(status.dwCurrentState, str(status.dwCurrentState))
    finally:
        api.CloseServiceHandle(service)
        api.CloseServiceHandle(scm)


def restart_delays(name: str = SERVICE_NAME) -> list[int]:
    """The failure actions' restart delays in milliseconds, as the SCM keeps them (for the selftest)."""
    api = _advapi32()
    scm, service = _open_service(api, name, SERVICE_QUERY_CONFIG)
    try:
        buffer = ctypes.create_string_buffer(8192)
        needed = DWORD()
        if not api.QueryServiceConfig2W(
            service, SERVICE_CONFIG_FAILURE_ACTIONS, buffer, ctypes.sizeof(buffer), ctypes.byref(needed)
        ):
            raise OSError(ctypes.get_last_error(), "QueryServiceConfig2W failed")  # type: ignore[attr-defined,unused-ignore]
        info = SERVICE_FAILURE_ACTIONSW.from_buffer(buffer)
        return [
            int(info.lpsaActions[i].Delay)
            for i in range(info.cActions)
            if info.lpsaActions and info.lpsaActions[i].Type == SC_ACTION_RESTART
        ]
    finally:
        api.CloseServiceHandle(service)
        api.CloseServiceHandle(scm)
