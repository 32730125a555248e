"""The capture interface every platform backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from jiseki.protocol import Monitor


class Capture(Protocol):
    width: int
    height: int

    def grab(self) -> np.ndarray:
        """The whole desktop as a (height, width, 4) uint8 BGRA array.

        The array may share memory with the backend: it is valid until the next grab()."""
        ...

    def monitors(self) -> list[Monitor]: ...

    def close(self) -> None: ...
