"""Failed-login throttling per source address (sliding window, in memory, injectable clock)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED = 100_000  # addresses remembered at most; the oldest are forgotten first


class AddressThrottle:
    def __init__(self, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        q = self._failures.get(address)
        if q is None:
            return deque()
        cutoff = self.clock() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        if not q:
            del self._failures[address]
        return q

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self.max_failures

    def failed(self, address: str) -> None:
        q = self._recent(address)
        if address not in self._failures:
            if len(self._failures) >= MAX_TRACKED:
                self._failures.pop(next(iter(self._failures)))
            self._failures[address] = q
        q.append(self.clock())
