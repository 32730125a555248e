"""The input interface every platform backend implements, the wheel accumulator they share, and
the merging of queued pointer moves."""

from __future__ import annotations

import threading
from typing import Protocol

from jiseki.protocol import WHEEL_NOTCH, KeyboardLayout, Pointer

# Keyboard-page usage ids of the writing-system keys whose characters KEYBOARD_LAYOUT reports:
# letters, digits, the punctuation block, and the ISO / JIS extra keys.
LAYOUT_PROBE_IDS: tuple[int, ...] = (
    *range(0x04, 0x28),  # KeyA..KeyZ, Digit1..Digit0
    *range(0x2D, 0x32),  # Minus, Equal, BracketLeft, BracketRight, Backslash
    *range(0x33, 0x39),  # Semicolon, Quote, Backquote, Comma, Period, Slash
    0x64,  # IntlBackslash
    0x87,  # IntlRo (ろ)
    0x89,  # IntlYen (¥)
)


class InputSink(Protocol):
    def key(self, usage: int, down: bool) -> None:
        """Press or release the physical key with this USB HID usage (page << 16 | id).

        A press of a key that is already down is an autorepeat."""
        ...

    def text(self, text: str) -> None:
        """Type composed text as Unicode characters (already checked by `text.refusal`)."""
        ...

    def set_locks(self, known: int, state: int) -> None:
        """Make the host's lock keys (LOCK_* bits set in `known`) match `state`."""
        ...

    def layout(self) -> KeyboardLayout | None:
        """The host's active keyboard layout, or None if it cannot be read."""
        ...

    def pointer(self, x: int, y: int, buttons: int) -> None:
        """Move to (x, y) in desktop pixels; `buttons` is the full mask of buttons now held."""
        ...

    def wheel(self, dx: int, dy: int) -> None:
        """Scroll by deltas in 1/120 notch; positive dy scrolls down, positive dx right."""
        ...

    def release_all(self) -> None:
        """Release every key and button this sink pressed (on disconnect, blur...)."""
        ...

    def close(self) -> None: ...


class WheelAccumulator:
    """Turns fine wheel deltas into whole notches without losing or doubling any."""

    def __init__(self) -> None:
        self._x = 0
        self._y = 0

    def add(self, dx: int, dy: int) -> tuple[int, int]:
        """Whole notches (x, y) to emit now; the remainder is kept for later deltas."""
        self._x += dx
        self._y += dy
        nx = int(self._x / WHEEL_NOTCH)  # truncates toward zero, keeping the sign of the remainder
        ny = int(self._y / WHEEL_NOTCH)
        self._x -= nx * WHEEL_NOTCH
        self._y -= ny * WHEEL_NOTCH
        return nx, ny


class PendingMove:
    """A queued pointer move; until the input thread takes it, a later move with the same buttons
    may replace its position (the session merges moves queued behind slow input)."""

    def __init__(self, msg: Pointer) -> None:
        self._lock = threading.Lock()
        self._x, self._y, self._buttons = msg.x, msg.y, msg.buttons
        self._taken = False

    def replace(self, msg: Pointer) -> bool:
        with self._lock:
            if self._taken or msg.buttons != self._buttons:
                return False
            self._x, self._y = msg.x, msg.y
            return True

    def take(self) -> tuple[int, int, int]:
        with self._lock:
            self._taken = True
            return self._x, self._y, self._buttons
