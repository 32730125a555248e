"""A small Win32 window toolkit (ctypes): window classes, windows owned by a dedicated thread that
runs their message loop, one Python callback per window, message-only windows for listeners.

A window belongs to the thread that created it: only that thread gets its messages and only that
thread may destroy it. `WindowThread` therefore does every window operation on its own thread:
`call` hands a function to a message-only window of that thread (a posted message) and waits for
the result. Used by the curtain (`win32/host.py`), the selftest's probe window
(`selftest/win32_window.py`) and the clipboard listener (`win32/clipboard.py`).

Documented APIs: RegisterClassExW, CreateWindowExW, DestroyWindow, DefWindowProcW, GetMessageW,
TranslateMessage, DispatchMessageW, PostMessageW, PostQuitMessage, ShowWindow.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .abi import BOOL, DWORD, HANDLE, LPARAM, LRESULT, POINT, UINT, WPARAM

log = logging.getLogger(__name__)

T = TypeVar("T")


HWND_MESSAGE = -3  # parent of message-only windows: no picture, no input, only messages
WM_DESTROY = 0x0002
WM_CLOSE = 0x0010
WM_NCDESTROY = 0x0082
WM_APP = 0x8000
WM_RUN = WM_APP + 1  # the dispatcher's "run the queued calls"
WS_POPUP = 0x80000000
WS_VISIBLE = 0x10000000
WS_EX_TOPMOST = 0x00000008
WS_EX_TOOLWINDOW = 0x00000080  # no taskbar button
WS_EX_NOACTIVATE = 0x08000000
SW_SHOWNOACTIVATE = 4
SW_SHOW = 5
BLACK_BRUSH = 4
IDC_ARROW = 32512
ERROR_CLASS_ALREADY_EXISTS = 1410
DISPATCH_CLASS = "JisekiDispatch"

# A window's message callback: (hwnd, message, wParam, lParam) -> the result, or None to let
# DefWindowProcW handle the message.
MessageHandler = Callable[[int, int, int, int], int | None]

WINFUNCTYPE: Any = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)  # stdcall on Windows only
WNDPROC = WINFUNCTYPE(LRESULT, HANDLE, UINT, WPARAM, LPARAM)


class MSG(ctypes.Structure):
    _fields_ = (
        ("hwnd", HANDLE),
        ("message", UINT),
        ("wParam", WPARAM),
        ("lParam", LPARAM),
        ("time", DWORD),
        ("pt", POINT),
        ("lPrivate", DWORD),
    )


class WNDCLASSEXW(ctypes.Structure):
    _fields_ = (
        ("cbSize", UINT),
        ("style", UINT),
        ("lpfnWndProc", ctypes.c_void_p),
        ("cbClsExtra", ctypes.c_int),
        ("cbWndExtra", ctypes.c_int),
        ("hInstance", HANDLE),
        ("hIcon", HANDLE),
        ("hCursor", HANDLE),
        ("hbrBackground", HANDLE),
        ("lpszMenuName", ctypes.c_wchar_p),
        ("lpszClassName", ctypes.c_wchar_p),
        ("hIconSm", HANDLE),
    )


def _proto(dll: Any, name: str, restype: Any, *argtypes: Any) -> None:
    fn = getattr(dll, name)
    fn.restype = restype
    fn.argtypes = argtypes


class Win32Api:
    """user32, kernel32 and gdi32 with the prototypes the window modules use (64-bit handles must not
    go through ctypes' default int). One per process: `api()`."""

    # Declared here: on Linux a type checker sees __init__ past the platform check as unreachable.
    user32: Any
    kernel32: Any
    gdi32: Any
    hinstance: Any
    wndproc: Any
    _classes: set[str]
    _lock: threading.Lock

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("Win32 windows exist on Windows only")
        windll: Any = ctypes.WinDLL  # type: ignore[attr-defined,unused-ignore]
        u = self.user32 = windll("user32", use_last_error=True)
        k = self.kernel32 = windll("kernel32", use_last_error=True)
        g = self.gdi32 = windll("gdi32", use_last_error=True)
        _proto(k, "GetModuleHandleW", HANDLE, ctypes.c_wchar_p)
        _proto(k, "GetCurrentThreadId", DWORD)
        _proto(u, "RegisterClassExW", ctypes.c_uint16, ctypes.POINTER(WNDCLASSEXW))
        _proto(u, "LoadCursorW", HANDLE, HANDLE, ctypes.c_void_p)
        _proto(
            u,
            "CreateWindowExW",
            HANDLE,
            DWORD,
            ctypes.c_wchar_p,
            ctypes.c_wchar_p,
            DWORD,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            HANDLE,
            HANDLE,
            HANDLE,
            ctypes.c_void_p,
        )
        _proto(u, "DestroyWindow", BOOL, HANDLE)
        _proto(u, "ShowWindow", BOOL, HANDLE, ctypes.c_int)
        _proto(u, "DefWindowProcW", LRESULT, HANDLE, UINT, WPARAM, LPARAM)
        _proto(u, "GetMessageW", BOOL, ctypes.POINTER(MSG), HANDLE, UINT, UINT)
        _proto(u, "TranslateMessage", BOOL, ctypes.POINTER(MSG))
        _proto(u, "DispatchMessageW", LRESULT, ctypes.POINTER(MSG))
        _proto(u, "PostMessageW", BOOL, HANDLE, UINT, WPARAM, LPARAM)
        _proto(u, "PostQuitMessage", None, ctypes.c_int)
        _proto(u, "IsWindow", BOOL, HANDLE)
        _proto(u, "UpdateWindow", BOOL, HANDLE)
        _proto(g, "GetStockObject", HANDLE, ctypes.c_int)
        self.hinstance = k.GetModuleHandleW(None)
        self.wndproc = WNDPROC(_wndproc)  # kept here: Windows calls it for as long as the process lives
        self._classes: set[str] = set()
        self._lock = threading.Lock()

    def register_class(self, name: str, background: int = 0, style: int = 0) -> None:
        """Register a window class served by this module's window procedure (once per process).
        `background`: a brush the system erases with (0: the window's handler paints everything)."""
        with self._lock:
            if name in self._classes:
                return
            cls = WNDCLASSEXW()
            cls.cbSize = ctypes.sizeof(WNDCLASSEXW)
            cls.style = style
            cls.lpfnWndProc = ctypes.cast(self.wndproc, ctypes.c_void_p)
            cls.hInstance = self.hinstance
            cls.hCursor = self.user32.LoadCursorW(None, ctypes.c_void_p(IDC_ARROW))
            cls.hbrBackground = background or None
            cls.lpszClassName = name
            if not self.user32.RegisterClassExW(ctypes.byref(cls)):
                error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
                if error != ERROR_CLASS_ALREADY_EXISTS:
                    raise ctypes.WinError(error)  # type: ignore[attr-defined,unused-ignore]
            self._classes.add(name)


_api: Win32Api | None = None
_api_lock = threading.Lock()
# hwnd -> its handler. Each window's messages come on its own thread; dict operations are atomic.
_handlers: dict[int, MessageHandler] = {}
# The handler of the window CreateWindowExW is making on this thread: messages arrive (WM_NCCREATE,
# WM_CREATE...) before CreateWindowExW has returned the handle.
_creating = threading.local()


def api() -> Win32Api:
    """The process's Win32Api (OSError anywhere but Windows)."""
    global _api
    with _api_lock:
        if _api is None:
            _api = Win32Api()
        return _api


def _wndproc(hwnd: int | None, msg: int, wparam: int, lparam: int) -> int:
    key = hwnd or 0
    handler = _handlers.get(key)
    if handler is None:
        handler = getattr(_creating, "handler", None)
        if handler is not None:
            _handlers[key] = handler
    result: int | None = None
    if handler is not None:
        try:
            result = handler(key, msg, wparam, lparam)
        except Exception:  # an exception must not cross into Windows' dispatcher
            log.exception("window message 0x%04x", msg)
    if msg == WM_NCDESTROY:
        _handlers.pop(key, None)
    if result is not None:
        return result
    return int(api().user32.DefWindowProcW(hwnd, msg, wparam, lparam))


class WindowThread:
    """A thread that owns windows and runs their message loop until `stop`."""

    def __init__(self, name: str = "win32-windows") -> None:
        self.api = api()  # OSError off Windows
        self.name = name
        self.thread_id = 0
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._dispatcher = 0
        self._windows: set[int] = set()  # created here and not yet destroyed
        self._start_error: BaseException | None = None

    def start(self, timeout: float = 5.0) -> WindowThread:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.name}: the window thread did not start")
        if self._start_error is not None:
            raise OSError(f"{self.name}: {self._start_error}") from self._start_error
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def windows(self) -> list[int]:
        return sorted(self._windows)

    def _run(self) -> None:
        user32 = self.api.user32
        self.thread_id = int(self.api.kernel32.GetCurrentThreadId())
        try:
            self.api.register_class(DISPATCH_CLASS)
            self._dispatcher = self._create(DISPATCH_CLASS, parent=HWND_MESSAGE, handler=self._dispatch)
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self._windows.discard(self._dispatcher)  # not one of the caller's windows
        self._ready.set()
        msg = MSG()
        while user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:  # 0: WM_QUIT, -1: error
            user32.TranslateMessage(ctypes.byref(msg))
            user32.DispatchMessageW(ctypes.byref(msg))
        user32.DestroyWindow(self._dispatcher)
        self._run_jobs(OSError(f"{self.name}: the window thread has ended"))

    def _run_jobs(self, refuse: BaseException | None = None) -> None:
        while True:
            try:
                fn, future = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            if refuse is not None:
                future.set_exception(refuse)
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def _dispatch(self, _hwnd: int, msg: int, _wparam: int, _lparam: int) -> int | None:
        if msg != WM_RUN:
            return None
        self._run_jobs()
        return 0

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run `fn` on the window thread and return its result (or raise what it raised)."""
        if self._thread is None or not self._thread.is_alive():
            raise OSError(f"{self.name}: the window thread is not running")
        if threading.current_thread() is self._thread:
            return fn()
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        if not self.api.user32.PostMessageW(self._dispatcher, WM_RUN, 0, 0):
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
        return future.result(timeout)

    def _create(
        self,
        class_name: str,
        *,
        rect: tuple[int, int, int, int] = (0, 0, 0, 0),
        style: int = 0,
        ex_style: int = 0,
        title: str = "",
        parent: int | None = None,
        handler: MessageHandler | None = None,
    ) -> int:
        def bound(hwnd: int, msg: int, wparam: int, lparam: int) -> int | None:
            if msg == WM_NCDESTROY:
                self._windows.discard(hwnd)
            return handler(hwnd, msg, wparam, lparam) if handler is not None else None

        x, y, w, h = rect
        _creating.handler = bound
        try:
            hwnd = self.api.user32.CreateWindowExW(
                ex_style, class_name, title, style, x, y, w, h, parent, None, self.api.hinstance, None
            )
        finally:
            _creating.handler = None
        if not hwnd:
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
        _handlers[hwnd] = bound  # also when no message came during creation
        self._windows.add(hwnd)
        return int(hwnd)

    def create_window(
        self,
        class_name: str,
        *,
        rect: tuple[int, int, int, int] = (0, 0, 0, 0),
        style: int = WS_POPUP,
        ex_style: int = 0,
        title: str = "",
        handler: MessageHandler | None = None,
        show: int | None = None,
    ) -> int:
        """Create a window of a class registered with `Win32Api.register_class` on this thread;
        `rect` is (x, y, width, height) in screen coordinates; `show`: a ShowWindow command."""

        def make() -> int:
            hwnd = self._create(class_name, rect=rect, style=style, ex_style=ex_style, title=title, handler=handler)
            if show is not None:
                self.api.user32.ShowWindow(hwnd, show)
                self.api.user32.UpdateWindow(hwnd)  # painted before this returns, not when idle
            return hwnd

        return self.call(make)

    def create_message_window(self, class_name: str, handler: MessageHandler) -> int:
        """A message-only window (HWND_MESSAGE): invisible, no input, receives posted and sent messages."""
        return self.call(lambda: self._create(class_name, parent=HWND_MESSAGE, handler=handler))

    def destroy_window(self, hwnd: int) -> bool:
        return self.call(lambda: bool(self.api.user32.DestroyWindow(hwnd)))

    def post(self, hwnd: int, msg: int, wparam: int = 0, lparam: int = 0) -> bool:
        return bool(self.api.user32.PostMessageW(hwnd, msg, wparam, lparam))

    def stop(self, timeout: float = 5.0) -> None:
        """Destroy the windows still open, end the message loop and join the thread."""
        if self._thread is None:
            return
        if self._thread.is_alive():

            def end() -> None:
                for hwnd in list(self._windows):
                    self.api.user32.DestroyWindow(hwnd)
                self.api.user32.PostQuitMessage(0)

            try:
                self.call(end, timeout)
            except (OSError, TimeoutError):
                log.warning("%s: could not end the window thread", self.name)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
