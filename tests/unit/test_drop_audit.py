"""Dropped messages make a bounded number of audit rows that still add up (issue 12, item 15)."""

from __future__ import annotations

import asyncio

from jiseki.gateway.drop_audit import DropAudit
from jiseki.gateway.rules import Decision, Verdict

CLIP = Decision(Verdict.DROP, "clipboard_forbidden", {"direction": "to_host", "bytes": 3, "sha256": "ab" * 32})
KEY = Decision(Verdict.DROP, "view_only")


async def test_first_drop_at_once_then_counts_per_interval_and_at_the_end() -> None:
    rows: list[tuple[str, Decision, dict[str, int]]] = []

    async def write(direction: str, decision: Decision, counts: dict[str, int]) -> None:
        rows.append((direction, decision, counts))

    drops = DropAudit(write, interval=0.2)
    writer = asyncio.create_task(drops.run())
    for _ in range(500):
        await drops.dropped("to_host", CLIP)
        await drops.dropped("to_host", KEY)
    assert [(r[1].reason, r[2]) for r in rows] == [
        ("clipboard_forbidden", {"count": 1, "total": 1}),
        ("view_only", {"count": 1, "total": 1}),
    ]
    assert rows[0][1].clipboard == CLIP.clipboard  # the first carries its metadata
    await asyncio.sleep(0.3)
    assert len(rows) == 4 and {r[2]["total"] for r in rows[2:]} == {500}
    await drops.dropped("to_terminal", CLIP)  # another direction is another kind
    await drops.dropped("to_host", CLIP)
    drops.stop()
    await writer
    assert [(r[0], r[1].reason, r[2]) for r in rows[4:]] == [
        ("to_terminal", "clipboard_forbidden", {"count": 1, "total": 1}),
        ("to_host", "clipboard_forbidden", {"count": 1, "total": 501}),
    ]
    assert rows[-1][1].clipboard == {}  # a count row is a clipboard row without any one message's metadata
    assert all(r[1].clipboard is None for r in rows if r[1].reason == "view_only")
