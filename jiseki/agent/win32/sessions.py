"""ctypes binding of what the service needs to reach the desk: the active console session, its user
and lock state, and a worker process started in it (Windows only).

A service runs in session 0, which has no desktop the staff member sees. The worker that captures
and injects must run in the session attached to the physical console, and as LocalSystem so that it
may open the Winlogon desktop (lock screen, UAC prompt): the service duplicates its own token, sets
the token's session id to the console session (SetTokenInformation TokenSessionId, which needs
SeTcbPrivilege: LocalSystem has it) and starts the worker with CreateProcessAsUserW on
"winsta0\\default". The worker's stdin and stdout are anonymous pipes to the service (the
`protocol.worker_link` lines); its stderr is NUL (it logs to the Event Log and the log file).

Documented APIs: kernel32 WTSGetActiveConsoleSessionId, CreatePipe, SetHandleInformation,
CreateFileW, WaitForSingleObject, GetExitCodeProcess, TerminateProcess, CloseHandle; advapi32
OpenProcessToken, DuplicateTokenEx, SetTokenInformation, CreateProcessAsUserW; wtsapi32 as in
`win32/host.py`. Run under Wine by tests/wine/test_service_wine.py.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from typing import IO, Any

from .abi import BOOL, DWORD, HANDLE, WORD

NO_CONSOLE_SESSION = 0xFFFFFFFF  # WTSGetActiveConsoleSessionId while the console is being switched
TOKEN_DUPLICATE = 0x0002
TOKEN_ASSIGN_PRIMARY = 0x0001
TOKEN_QUERY = 0x0008
TOKEN_ADJUST_DEFAULT = 0x0080
TOKEN_ADJUST_SESSIONID = 0x0100
MAXIMUM_ALLOWED = 0x02000000
SECURITY_IMPERSONATION = 2
TOKEN_PRIMARY = 1
TOKEN_SESSION_ID = 12  # TOKEN_INFORMATION_CLASS
HANDLE_FLAG_INHERIT = 1
STARTF_USESTDHANDLES = 0x100
CREATE_NO_WINDOW = 0x08000000
CREATE_NEW_PROCESS_GROUP = 0x00000200
GENERIC_WRITE = 0x40000000
FILE_SHARE_READ_WRITE = 0x3
OPEN_EXISTING = 3
WAIT_TIMEOUT = 0x102
STILL_ACTIVE = 259
INVALID_HANDLE = ctypes.c_void_p(-1).value
DESKTOP = "WinSta0\\Default"  # the worker follows the input desktop from there (win32/desktop.py)


class SECURITY_ATTRIBUTES(ctypes.Structure):
    _fields_ = (("nLength", DWORD), ("lpSecurityDescriptor", ctypes.c_void_p), ("bInheritHandle", BOOL))


class STARTUPINFOW(ctypes.Structure):
    _fields_ = (
        ("cb", DWORD),
        ("lpReserved", ctypes.c_wchar_p),
        ("lpDesktop", ctypes.c_wchar_p),
        ("lpTitle", ctypes.c_wchar_p),
        ("dwX", DWORD),
        ("dwY", DWORD),
        ("dwXSize", DWORD),
        ("dwYSize", DWORD),
        ("dwXCountChars", DWORD),
        ("dwYCountChars", DWORD),
        ("dwFillAttribute", DWORD),
        ("dwFlags", DWORD),
        ("wShowWindow", WORD),
        ("cbReserved2", WORD),
        ("lpReserved2", ctypes.c_void_p),
        ("hStdInput", HANDLE),
        ("hStdOutput", HANDLE),
        ("hStdError", HANDLE),
    )


class PROCESS_INFORMATION(ctypes.Structure):
    _fields_ = (("hProcess", HANDLE), ("hThread", HANDLE), ("dwProcessId", DWORD), ("dwThreadId", DWORD))


def _dlls() -> tuple[Any, Any]:
    if sys.platform != "win32":
        raise OSError("console sessions exist on Windows only")
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.WTSGetActiveConsoleSessionId.restype = DWORD
    kernel32.GetCurrentProcess.restype = HANDLE
    kernel32.CreatePipe.argtypes = (ctypes.POINTER(HANDLE), ctypes.POINTER(HANDLE), ctypes.c_void_p, DWORD)
    kernel32.CreatePipe.restype = BOOL
    kernel32.SetHandleInformation.argtypes = (HANDLE, DWORD, DWORD)
    kernel32.SetHandleInformation.restype = BOOL
    kernel32.CreateFileW.argtypes = (ctypes.c_wchar_p, DWORD, DWORD, ctypes.c_void_p, DWORD, DWORD, HANDLE)
    kernel32.CreateFileW.restype = HANDLE
    kernel32.CloseHandle.argtypes = (HANDLE,)
    kernel32.CloseHandle.restype = BOOL
    kernel32.WaitForSingleObject.argtypes = (HANDLE, DWORD)
    kernel32.WaitForSingleObject.restype = DWORD
    kernel32.GetExitCodeProcess.argtypes = (HANDLE, ctypes.POINTER(DWORD))
    kernel32.GetExitCodeProcess.restype = BOOL
    kernel32.TerminateProcess.argtypes = (HANDLE, ctypes.c_uint)
    kernel32.TerminateProcess.restype = BOOL
    advapi32.OpenProcessToken.argtypes = (HANDLE, DWORD, ctypes.POINTER(HANDLE))
    advapi32.OpenProcessToken.restype = BOOL
    advapi32.DuplicateTokenEx.argtypes = (
        HANDLE,
        DWORD,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(HANDLE),
    )
    advapi32.DuplicateTokenEx.restype = BOOL
    advapi32.SetTokenInformation.argtypes = (HANDLE, ctypes.c_int, ctypes.c_void_p, DWORD)
    advapi32.SetTokenInformation.restype = BOOL
    advapi32.CreateProcessAsUserW.argtypes = (
        HANDLE,
        ctypes.c_wchar_p,
        ctypes.c_wchar_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        BOOL,
        DWORD,
        ctypes.c_void_p,
        ctypes.c_wchar_p,
        ctypes.POINTER(STARTUPINFOW),
        ctypes.POINTER(PROCESS_INFORMATION),
    )
    advapi32.CreateProcessAsUserW.restype = BOOL
    return kernel32, advapi32


def _fail(call: str) -> OSError:
    error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
    return OSError(error, f"{call} failed (Windows error {error})")


def active_console_session() -> int | None:
    """The session attached to the physical console, or None while it is being switched."""
    kernel32, _ = _dlls()
    session = int(kernel32.WTSGetActiveConsoleSessionId())
    return None if session == NO_CONSOLE_SESSION else session


class WorkerProcess:
    """A worker started in a console session; `stdin`/`stdout` are the service's ends of its pipes."""

    def __init__(self, kernel32: Any, info: PROCESS_INFORMATION, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self._kernel32 = kernel32
        self._process = info.hProcess
        self.pid = int(info.dwProcessId)
        self.stdin = stdin
        self.stdout = stdout
        kernel32.CloseHandle(info.hThread)

    def poll(self) -> int | None:
        code = DWORD()
        if not self._kernel32.GetExitCodeProcess(self._process, ctypes.byref(code)):
            raise _fail("GetExitCodeProcess")
        return None if code.value == STILL_ACTIVE else int(code.value)

    def wait(self, timeout: float | None = None) -> int:
        ms = 0xFFFFFFFF if timeout is None else int(timeout * 1000)
        if self._kernel32.WaitForSingleObject(self._process, ms) == WAIT_TIMEOUT:
            raise subprocess.TimeoutExpired("worker", timeout or 0)
        code = self.poll()
        return code if code is not None else STILL_ACTIVE

    def kill(self) -> None:
        self._kernel32.TerminateProcess(self._process, 1)

    def close(self) -> None:
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self._process:
            self._kernel32.CloseHandle(self._process)
            self._process = None


def _pipe(kernel32: Any, child_reads: bool) -> tuple[int, int]:
    """(the child's end, inheritable; the service's end, not inheritable)."""
    sa = SECURITY_ATTRIBUTES(ctypes.sizeof(SECURITY_ATTRIBUTES), None, True)
    read, write = HANDLE(), HANDLE()
    if not kernel32.CreatePipe(ctypes.byref(read), ctypes.byref(write), ctypes.byref(sa), 0):
        raise _fail("CreatePipe")
    child, ours = (read.value, write.value) if child_reads else (write.value, read.value)
    kernel32.SetHandleInformation(ours, HANDLE_FLAG_INHERIT, 0)
    return int(child or 0), int(ours or 0)


def _session_token(kernel32: Any, advapi32: Any, session: int) -> int:
    """A primary copy of this process's (LocalSystem) token, moved to `session`."""
    own = HANDLE()
    access = TOKEN_DUPLICATE | TOKEN_QUERY | TOKEN_ASSIGN_PRIMARY | TOKEN_ADJUST_SESSIONID | TOKEN_ADJUST_DEFAULT
    if not advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), access, ctypes.byref(own)):
        raise _fail("OpenProcessToken")
    try:
        token = HANDLE()
        if not advapi32.DuplicateTokenEx(
            own, MAXIMUM_ALLOWED, None, SECURITY_IMPERSONATION, TOKEN_PRIMARY, ctypes.byref(token)
        ):
            raise _fail("DuplicateTokenEx")
    finally:
        kernel32.CloseHandle(own)
    sid = DWORD(session)
    if not advapi32.SetTokenInformation(token, TOKEN_SESSION_ID, ctypes.byref(sid), ctypes.sizeof(sid)):
        error = _fail("SetTokenInformation(TokenSessionId): the service must run as LocalSystem")
        kernel32.CloseHandle(token)
        raise error
    return int(token.value or 0)


def start_in_session(session: int, argv: list[str]) -> WorkerProcess:
    """Start `argv` as LocalSystem in console session `session`, on the interactive desktop."""
    import msvcrt  # Windows only

    kernel32, advapi32 = _dlls()
    token = _session_token(kernel32, advapi32, session)
    child_in, our_in = _pipe(kernel32, child_reads=True)
    child_out, our_out = _pipe(kernel32, child_reads=False)
    sa = SECURITY_ATTRIBUTES(ctypes.sizeof(SECURITY_ATTRIBUTES), None, True)
    null = kernel32.CreateFileW("NUL", GENERIC_WRITE, FILE_SHARE_READ_WRITE, ctypes.byref(sa), OPEN_EXISTING, 0, None)
    try:
        startup = STARTUPINFOW()
        startup.cb = ctypes.sizeof(STARTUPINFOW)
        startup.lpDesktop = DESKTOP
        startup.dwFlags = STARTF_USESTDHANDLES
        startup.hStdInput, startup.hStdOutput, startup.hStdError = child_in, child_out, null
        info = PROCESS_INFORMATION()
        command_line = subprocess.list2cmdline(argv)
        if not advapi32.CreateProcessAsUserW(
            token,
            None,
            command_line,
            None,
            None,
            True,
            CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP,
            None,
            None,
            ctypes.byref(startup),
            ctypes.byref(info),
        ):
            error = _fail("CreateProcessAsUserW")
            for handle in (our_in, our_out):
                kernel32.CloseHandle(handle)
            raise error
    finally:
        for handle in (child_in, child_out, null, token):
            if handle and handle != INVALID_HANDLE:
                kernel32.CloseHandle(handle)
    stdin = os.fdopen(msvcrt.open_osfhandle(our_in, os.O_WRONLY), "wb", buffering=0)  # type: ignore[attr-defined,unused-ignore]
    stdout = os.fdopen(msvcrt.open_osfhandle(our_out, os.O_RDONLY), "rb", buffering=0)  # type: ignore[attr-defined,unused-ignore]
    return WorkerProcess(kernel32, info, stdin, stdout)


def disconnect_session(session: int) -> bool:
    """Disconnect `session` from the console: the desk shows the sign-in screen and the user's
    password is needed to get back in (the lock when LockWorkStation cannot be called)."""
    if sys.platform != "win32":
        raise OSError("console sessions exist on Windows only")
    wtsapi32 = ctypes.WinDLL("wtsapi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    wtsapi32.WTSDisconnectSession.argtypes = (HANDLE, DWORD, BOOL)
    wtsapi32.WTSDisconnectSession.restype = BOOL
    return bool(wtsapi32.WTSDisconnectSession(None, session, False))
