"""The earlier test proxy's names, kept for its users: the link emulator is `bench/shaper.py`."""

from __future__ import annotations

from dataclasses import dataclass

from bench.shaper import Profile, Shaper


@dataclass
class LinkShape:
    delay: float = 0.0  # one-way seconds
    rate: float = 0.0  # bytes per second in each direction; 0 = unlimited

    def profile(self) -> Profile:
        return Profile("custom", down_bps=self.rate * 8, up_bps=self.rate * 8, rtt=2 * self.delay)


class NetProxy(Shaper):
    def __init__(self, target_host: str, target_port: int, shape: LinkShape | None = None) -> None:
        super().__init__(target_host, target_port, (shape or LinkShape()).profile())


__all__ = ["LinkShape", "NetProxy"]
