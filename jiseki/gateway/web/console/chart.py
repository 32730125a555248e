"""The dashboard's 30-day chart, drawn as SVG on the server.

Why not a chart library: the page needs one bar chart. Server-side SVG costs no vendored
JavaScript in a security product's console, works under the strict CSP and without scripts, prints,
and its numbers are also given as a table for screen readers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26


@dataclass(frozen=True)
class Bar:
    day: dt.date
    count: int
    x: float
    y: float
    width: float
    height: float
    label: str  # shown under every fifth bar, else ""


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class DailyChart:
    bars: list[Bar]
    ticks: list[Tick]
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: float = HEIGHT - BOTTOM


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^k not below `value` (at least 4, so ticks stay whole numbers)."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def daily_chart(counts: dict[dt.date, int], last_day: dt.date, days: int = 30) -> DailyChart:
    """Bars for the `days` days ending with `last_day`; days without sessions are zero."""
    first = last_day - dt.timedelta(days=days - 1)
    series = [(first + dt.timedelta(days=i), counts.get(first + dt.timedelta(days=i), 0)) for i in range(days)]
    top = nice_ceiling(max((c for _d, c in series), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / days
    bars = []
    for i, (day, count) in enumerate(series):
        h = plot_h * count / top
        label = day.strftime("%m-%d") if (days - 1 - i) % 5 == 0 else ""
        bars.append(Bar(day, count, LEFT + i * slot + slot * 0.15, TOP + plot_h - h, slot * 0.7, h, label))
    ticks = [Tick(top * k // 4, TOP + plot_h - plot_h * k / 4) for k in range(5)]
    return DailyChart(bars, ticks, sum(c for _d, c in series))
