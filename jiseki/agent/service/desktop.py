"""The worker follows the input desktop: Default ↔ Winlogon (lock screen, Ctrl+Alt+Del screen, the
UAC prompt's secure desktop), so that the remote user sees and operates whatever the desk shows.

`DesktopFollower.follow()` is called on a capture or input thread before it works: when the input
desktop is not the one the thread is on, the thread moves to it (SetThreadDesktop) and the call says
so. `FollowingCapture` then re-opens the capture on the new desktop (a GDI screen DC and a DXGI
duplication both belong to the desktop they were made on) and sends a whole frame;
`FollowingInput` moves its thread before each injection. The Win32 calls sit behind `DesktopApi`
(`win32/desktop.py`); the unit tests use a fake that switches desktops as Windows does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np

from jiseki.protocol import KeyboardLayout, Monitor, Rect

from ..capture.base import Capture, CursorImage, MoveHint
from ..input.base import InputSink

log = logging.getLogger(__name__)


class DesktopApi(Protocol):
    def open_input(self) -> tuple[int, str] | None:
        """(handle, name) of the input desktop, or None when it cannot be opened."""
        ...

    def set_thread(self, handle: int) -> bool: ...
    def close(self, handle: int) -> None: ...


class DesktopFollower:
    def __init__(self, api: DesktopApi, on_switch: Callable[[str], None] = lambda _name: None) -> None:
        self.api = api
        self.on_switch = on_switch
        self._threads = threading.local()  # per thread: (handle, name) of the desktop it is on
        self._refused: set[str] = set()  # thread:desktop pairs already warned about

    def current(self) -> str | None:
        """The desktop the calling thread was last moved to (None: never moved)."""
        held = getattr(self._threads, "held", None)
        return held[1] if held else None

    def follow(self) -> bool:
        """Move the calling thread to the input desktop if it is elsewhere; True when it moved."""
        opened = self.api.open_input()
        if opened is None:
            return False  # e.g. a secure desktop this process may not open: stay where we are
        handle, name = opened
        held: tuple[int, str] | None = getattr(self._threads, "held", None)
        if held is not None and held[1] == name:
            self.api.close(handle)
            return False
        if not self.api.set_thread(handle):
            self.api.close(handle)
            where = f"{threading.current_thread().name}:{name}"
            if where not in self._refused:
                self._refused.add(where)
                log.warning(
                    "thread %s cannot switch to the %s desktop (does it own a window?)",
                    threading.current_thread().name,
                    name,
                )
            return False
        if held is not None:
            self.api.close(held[0])  # the previous desktop's handle: the thread is no longer on it
        self._threads.held = (handle, name)
        if held is not None:
            log.info("input desktop: %s", name)
            self.on_switch(name)
        return held is not None


class FollowingCapture:
    """A capture that re-opens itself on the input desktop whenever that changes."""

    def __init__(self, open_capture: Callable[[], Capture], follower: DesktopFollower) -> None:
        self._open = open_capture
        self._follower = follower
        self._follower.follow()
        self.inner = open_capture()
        self._opened_on = follower.current()  # the desktop the capture reads (threads may differ)
        self._describe()

    def _describe(self) -> None:
        self.width = self.inner.width
        self.height = self.inner.height
        self.method = self.inner.method
        self.fallback_reason: str | None = getattr(self.inner, "fallback_reason", None)

    def grab(self, area: Rect | None = None) -> np.ndarray:
        self._follower.follow()
        desktop = self._follower.current()
        if desktop != self._opened_on:
            self.inner.close()
            self.inner = self._open()
            self._opened_on = desktop
            self._describe()
            area = None  # another desktop: everything may differ
        return self.inner.grab(area)

    def monitors(self) -> list[Monitor]:
        return self.inner.monitors()

    def fileno(self) -> int | None:
        return self.inner.fileno()

    def damage(self) -> list[Rect] | None:
        return self.inner.damage()

    def moves(self) -> list[MoveHint]:
        return self.inner.moves()

    def cursor(self) -> CursorImage | None:
        return self.inner.cursor()

    def pending(self) -> bool:
        return self.inner.pending()

    def close(self) -> None:
        self.inner.close()


class FollowingInput:
    """An input sink whose calls land on the input desktop (its thread moves there first)."""

    def __init__(self, inner: InputSink, follower: DesktopFollower) -> None:
        self.inner = inner
        self._follower = follower

    def key(self, usage: int, down: bool) -> None:
        self._follower.follow()
        self.inner.key(usage, down)

    def text(self, text: str) -> None:
        self._follower.follow()
        self.inner.text(text)

    def set_locks(self, known: int, state: int) -> None:
        self._follower.follow()
        self.inner.set_locks(known, state)

    def layout(self) -> KeyboardLayout | None:
        return self.inner.layout()

    def pointer(self, x: int, y: int, buttons: int) -> None:
        self._follower.follow()
        self.inner.pointer(x, y, buttons)

    def wheel(self, dx: int, dy: int) -> None:
        self._follower.follow()
        self.inner.wheel(dx, dy)

    def release_all(self) -> None:
        self._follower.follow()
        self.inner.release_all()

    def close(self) -> None:
        self.inner.close()


class OneDesktop:
    """A platform with one desktop (X11): nothing to follow."""

    def open_input(self) -> tuple[int, str] | None:
        return None

    def set_thread(self, handle: int) -> bool:
        return True

    def close(self, handle: int) -> None:
        pass
