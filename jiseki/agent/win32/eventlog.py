"""The Windows Event Log as a logging handler (Windows only): source "jiseki" in the Application log.

The MSI registers the source with .NET's EventLogMessages.dll as its message file, whose every event
id is the format "%1": Event Viewer then shows each message as written, without "the description
cannot be found". Documented APIs (advapi32): RegisterEventSourceW, ReportEventW,
DeregisterEventSource. Run under Wine by tests/wine/test_service_wine.py (Wine accepts the calls;
what Event Viewer shows is checked only on Windows).
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from .abi import BOOL, DWORD, HANDLE, WORD

SOURCE = "jiseki"
EVENTLOG_ERROR_TYPE = 0x0001
EVENTLOG_WARNING_TYPE = 0x0002
EVENTLOG_INFORMATION_TYPE = 0x0004
MAX_MESSAGE = 31_000  # ReportEventW takes at most 31,839 characters per string
# One id per level, so that an administrator can filter (e.g. a GPO-driven alert on 3000).
EVENT_IDS = {EVENTLOG_INFORMATION_TYPE: 1000, EVENTLOG_WARNING_TYPE: 2000, EVENTLOG_ERROR_TYPE: 3000}


def event_type(level: int) -> int:
    if level >= logging.ERROR:
        return EVENTLOG_ERROR_TYPE
    if level >= logging.WARNING:
        return EVENTLOG_WARNING_TYPE
    return EVENTLOG_INFORMATION_TYPE


class EventLogHandler(logging.Handler):
    def __init__(self, source: str = SOURCE, level: int = logging.INFO) -> None:
        super().__init__(level)
        if sys.platform != "win32":
            raise OSError("the Event Log exists on Windows only")
        api: Any = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        api.RegisterEventSourceW.argtypes = (ctypes.c_wchar_p, ctypes.c_wchar_p)
        api.RegisterEventSourceW.restype = HANDLE
        api.ReportEventW.argtypes = (
            HANDLE,
            WORD,
            WORD,
            DWORD,
            ctypes.c_void_p,
            WORD,
            DWORD,
            ctypes.POINTER(ctypes.c_wchar_p),
            ctypes.c_void_p,
        )
        api.ReportEventW.restype = BOOL
        api.DeregisterEventSource.argtypes = (HANDLE,)
        api.DeregisterEventSource.restype = BOOL
        self._api: Any = api
        self._handle: Any = api.RegisterEventSourceW(None, source)
        if not self._handle:
            raise OSError(ctypes.get_last_error(), "RegisterEventSourceW failed")  # type: ignore[attr-defined,unused-ignore]
        self.written: int = 0  # events Windows accepted (the Wine test reads it)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)[:MAX_MESSAGE]
            kind = event_type(record.levelno)
            strings = (ctypes.c_wchar_p * 1)(text)
            if self._api.ReportEventW(self._handle, kind, 0, EVENT_IDS[kind], None, 1, 0, strings, None):
                self.written += 1
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        if self._handle:
            self._api.DeregisterEventSource(self._handle)
            self._handle = None
        super().close()
