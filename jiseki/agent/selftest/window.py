"""The selftest's own window: a known picture on top of the desktop that records the input it gets.

Each platform implements `ProbeWindow` (X11: `selftest/x11_window.py`; Windows:
`selftest/win32_window.py`). Keys come back as HID usages (page 7 << 16 | id, as the viewer sends
them), translated from what the window really received (an X keycode, a Windows scan code), so the
selftest can compare what it injected with what arrived, platform-neutrally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jiseki.protocol import Rect


@dataclass(frozen=True, slots=True)
class KeyEvent:
    usage: int  # HID usage (KEYBOARD_PAGE << 16 | id); 0 when the native code has no usage
    down: bool
    native: int  # what the window received: X keycode, or Windows scan code (0xE000 | code if extended)
    vk: int = 0  # Windows: the virtual key in wParam (0 on X11)


@dataclass(frozen=True, slots=True)
class Click:
    x: int  # virtual-desktop coordinates of a button press
    y: int
    button: int  # 1 left, 2 middle, 3 right


class ProbeWindow(Protocol):
    rect: Rect  # where the window is, in virtual-desktop pixels (the capture's coordinates)

    def fill(self, bgr: tuple[int, int, int]) -> None:
        """Paint the whole window one colour and wait until it is on the screen."""
        ...

    def focus(self) -> bool:
        """Bring the window to the front with the keyboard focus; False if the system refused."""
        ...

    def keys(self) -> list[KeyEvent]:
        """Key events received since the last call, in order (waits briefly for what is in flight)."""
        ...

    def clicks(self) -> list[Click]:
        """Button presses received since the last call."""
        ...

    def text(self) -> str:
        """Characters received (WM_CHAR / KeyPress with a string) since the last call."""
        ...

    def close(self) -> None: ...
