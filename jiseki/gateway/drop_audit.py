"""Audit rows for the messages a session's rules drop, bounded however many the viewer sends.

A viewer can send thousands of forbidden CLIPBOARD or input messages a second; one row each would
flood the audit trail (and the database). Per session and per kind of drop (direction, reason,
clipboard or not) the first drop is written at once, with its metadata; later ones are only counted
and written as one row with the count at most once per `SUMMARY_INTERVAL`, and whatever is left at
the session's end. Rows: `count` = drops since the previous row of that kind, `total` = so far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .rules import Decision

SUMMARY_INTERVAL = 60.0  # seconds between two rows of the same kind of drop (tests shorten it)

# (direction, the drop decision, {"count": n, "total": m}) -> writes one audit row
Write = Callable[[str, Decision, dict[str, int]], Awaitable[None]]


@dataclass
class _Tally:
    first: Decision  # the first drop's decision; summaries carry its reason, not its content metadata
    total: int = 0
    unwritten: int = 0


class DropAudit:
    """Counts drops; `run()` (one task per session) writes the counts, so no two writers share a tally."""

    def __init__(self, write: Write, interval: float | None = None) -> None:
        self._write = write
        self.interval = SUMMARY_INTERVAL if interval is None else interval
        self._tallies: dict[tuple[str, str, bool], _Tally] = {}
        self._stop = asyncio.Event()

    async def dropped(self, direction: str, decision: Decision) -> None:
        key = (direction, decision.reason, decision.clipboard is not None)
        tally = self._tallies.get(key)
        if tally is None:
            self._tallies[key] = _Tally(decision, total=1)
            await self._write(direction, decision, {"count": 1, "total": 1})
            return
        tally.total += 1
        tally.unwritten += 1

    async def _flush(self) -> None:
        """One row per kind with drops not yet written."""
        for (direction, _reason, _clip), tally in list(self._tallies.items()):
            if tally.unwritten:
                count, tally.unwritten = tally.unwritten, 0
                first = tally.first
                summary = Decision(first.verdict, first.reason, None if first.clipboard is None else {})
                await self._write(direction, summary, {"count": count, "total": tally.total})

    async def run(self) -> None:
        """Write the counted drops every interval; after `stop()`, what is left, then return."""
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except TimeoutError:
                pass
            await self._flush()
        await self._flush()  # stopped before its first look: what was counted is still written

    def stop(self) -> None:
        self._stop.set()
