"""The capture interface every platform backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from jiseki.protocol import Monitor, Rect


@dataclass(frozen=True, slots=True)
class CursorImage:
    """The pointer's shape (straight-alpha RGBA, w*h*4 bytes), hotspot and position."""

    w: int
    h: int
    hot_x: int
    hot_y: int
    rgba: bytes = field(repr=False)
    x: int = 0
    y: int = 0


@dataclass(frozen=True, slots=True)
class MoveHint:
    """The window system says the pixels of `src` moved by (dx, dy) (a scroll or a window drag), as
    DXGI's move rects do. A hint only: the encoder checks the pixels before it sends a COPY."""

    src: Rect
    dx: int
    dy: int


class Capture(Protocol):
    width: int
    height: int
    method: str  # how the screen is read, reported in the hello and the console: "x11", "dxgi", "gdi"

    def grab(self, area: Rect | None = None) -> np.ndarray:
        """The whole desktop as a (height, width, 4) uint8 BGRA array.

        With `area`, only that part is read again from the screen (the rest is what the last grab
        saw there: the caller passes the damaged area, outside which nothing was drawn). The array
        may share memory with the backend: it is valid until the next grab()."""
        ...

    def monitors(self) -> list[Monitor]: ...

    def fileno(self) -> int | None:
        """A descriptor that becomes readable when the screen or the cursor may have changed,
        so the session can sleep while nothing happens; None if the backend cannot tell (poll)."""
        ...

    def damage(self) -> list[Rect] | None:
        """Where the screen was drawn since the last call (a hint, not the truth: the frames are
        still compared); [] when nothing was drawn, None when the backend cannot tell."""
        ...

    def moves(self) -> list[MoveHint]:
        """Moves the window system reported since the last call (taken with `damage()`); [] if none
        or the backend cannot tell."""
        ...

    def cursor(self) -> CursorImage | None:
        """The cursor's shape if it changed since the last call, else None."""
        ...

    def pending(self) -> bool:
        """True when changes were already read from `fileno()` (it will not signal them again)."""
        ...

    def close(self) -> None: ...
