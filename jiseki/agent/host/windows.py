"""Host privacy on Windows, written against the documented Win32 APIs.

- lock: `LockWorkStation` (user32).
- curtain: a topmost, full-screen black window on every monitor, excluded from screen capture with
  `SetWindowDisplayAffinity(hwnd, WDA_EXCLUDEFROMCAPTURE)` (Windows 10 2004+), so the local monitor
  shows black while the capture sees the desktop; plus `BlockInput(TRUE)` so the local keyboard and
  mouse do nothing (BlockInput needs the agent to run elevated; input injected with SendInput by the
  agent's own thread still works).
- state: the session's user (`WTSQuerySessionInformationW`, WTSUserName and WTSDomainName) and its
  lock state (WTSSessionInfoEx, `SessionFlags` = WTS_SESSIONSTATE_LOCK), both wtsapi32.

The Win32 calls sit behind the small `HostApi` protocol; `WindowsHostControl` is unit-tested with a
fake, and `win32.host.Win32Host` (the ctypes binding) runs under Wine in tests/wine, where what Wine
lacks (display affinity, BlockInput, LockWorkStation, WTS lock state) fails: docs/windows.md.
"""

from __future__ import annotations

import logging
from typing import Protocol

from .base import HostState

log = logging.getLogger(__name__)

WDA_EXCLUDEFROMCAPTURE = 0x00000011


class HostApi(Protocol):
    def lock_workstation(self) -> bool: ...
    def block_input(self, block: bool) -> bool: ...
    def create_curtain_windows(self) -> list[int]:
        """One topmost black window per monitor, not yet shown; returns their handles."""
        ...

    def show_windows(self, handles: list[int]) -> bool: ...

    def set_display_affinity(self, hwnd: int, affinity: int) -> bool: ...
    def destroy_window(self, hwnd: int) -> bool: ...
    def session_user(self) -> tuple[str, str] | None:
        """(domain, user name) of the agent's session, or None when nobody is signed in."""
        ...

    def session_locked(self) -> bool | None:
        """True when the session is locked; None when Windows cannot say."""
        ...


class WindowsHostControl:
    def __init__(self, api: HostApi) -> None:
        self.api = api
        self._windows: list[int] = []
        self._blocked = False

    def state(self) -> HostState:
        signed_in = self.api.session_user()
        user = None
        if signed_in is not None and signed_in[1]:
            domain, name = signed_in
            user = f"{domain}\\{name}" if domain else name
        return HostState(user=user, locked=self.api.session_locked())

    def lock(self) -> bool:
        return self.api.lock_workstation()

    def set_curtain(self, on: bool) -> list[str]:
        done: list[str] = []
        if on:
            # Excluded from capture while still hidden, and shown only when every one is: a curtain
            # the capture would see would blank the remote picture too, and on an older Windows the
            # desk's monitor must not flash black for nothing.
            windows = self.api.create_curtain_windows()
            excluded = [h for h in windows if self.api.set_display_affinity(h, WDA_EXCLUDEFROMCAPTURE)]
            if windows and len(excluded) == len(windows) and self.api.show_windows(windows):
                self._windows = windows
                done.append("monitor_curtained")
            else:
                for hwnd in windows:
                    self.api.destroy_window(hwnd)
                log.warning("capture exclusion unavailable (Windows 10 2004+ needed); no curtain")
            if self.api.block_input(True):
                self._blocked = True
                done.append("input_blocked")
        else:
            for hwnd in self._windows:
                self.api.destroy_window(hwnd)
            self._windows = []
            if self._blocked:
                self.api.block_input(False)
                self._blocked = False
            done.append("released")
        return done


def win32_host() -> HostApi:
    """The ctypes binding; importable everywhere, usable only on Windows."""
    from ..win32.host import Win32Host

    return Win32Host()
