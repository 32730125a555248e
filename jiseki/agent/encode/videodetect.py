"""Find moving pictures: a rectangle that changes in most looks, at the same place, for a while.

Pure (the caller passes the clock and, for each look, the box of the largest changed area). A
video playing in a window changes the same rectangle 25 times a second; typing, a blinking cursor
or a scrolling list do not (too small, too rare, or not at one place). Whether the pixels are
photographic is the caller's check (they would go to JPEG anyway).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from jiseki.protocol import Rect


@dataclass(frozen=True, slots=True)
class DetectSettings:
    min_w: int = 160
    min_h: int = 120
    window: float = 0.5  # seconds of history looked at
    min_looks: int = 8  # changed looks at the same place within the window (16 a second)
    min_span: float = 0.4  # ... spread over at least this long (not one burst)
    same_place: float = 0.8  # overlap (intersection over union) for two boxes to be the same place


def overlap(a: Rect, b: Rect) -> float:
    """Intersection over union of two rectangles (0 when apart)."""
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    inter = (x1 - x0) * (y1 - y0)
    return inter / (a.w * a.h + b.w * b.h - inter)


def typical(boxes: list[Rect]) -> Rect:
    """The box whose each edge is the median of the boxes' edges: one look that also caught
    something else (the window's frame as it appeared, a tooltip) does not widen the video."""

    def median(values: list[int]) -> int:
        return sorted(values)[len(values) // 2]

    x0, y0 = median([r.x for r in boxes]), median([r.y for r in boxes])
    x1, y1 = median([r.x + r.w for r in boxes]), median([r.y + r.h for r in boxes])
    return Rect(x0, y0, x1 - x0, y1 - y0)


class VideoDetector:
    def __init__(self, settings: DetectSettings | None = None) -> None:
        self.s = settings or DetectSettings()
        self._looks: deque[tuple[float, Rect]] = deque()

    def reset(self) -> None:
        self._looks.clear()

    def observe(self, now: float, box: Rect | None) -> Rect | None:
        """Record one look's largest changed box (None: nothing large changed); the video's
        rectangle once one is found, else None."""
        s = self.s
        while self._looks and self._looks[0][0] < now - s.window:
            self._looks.popleft()
        if box is None or box.w < s.min_w or box.h < s.min_h:
            return None
        self._looks.append((now, box))
        same = [(t, b) for t, b in self._looks if overlap(b, box) >= s.same_place]
        if len(same) < s.min_looks or now - same[0][0] < s.min_span:
            return None
        return typical([b for _, b in same])
