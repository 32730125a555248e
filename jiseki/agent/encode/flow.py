"""Flow control and quality from measured delay (pure: the caller passes the clock).

The viewer ACKs every update once it is drawn, with the time it spent decoding and drawing it.
From the ACKs the controller keeps:
- the round trip on the way (send -> ACK back, less the viewer's decode time), its minimum over a
  sliding window as the base: growth above the base is queueing on the link;
- the throughput of acknowledged bytes,
and from them a window: at most `max_updates` updates (more on a long link: enough for one update
per frame interval over the base round trip, so that 90 ms away the picture still moves at the
frame rate, not at two updates per round trip) and about one round trip (plus the accepted delay)
of bytes in flight. An update is cut to what the window has room for (`budget`): a large
change goes out in several updates, so that nothing queues on the link beyond a fraction of a
second and a key's echo computed meanwhile is never stuck behind a whole screen.
When the measured delay grows above its base the JPEG quality goes down, then the frame rate;
when it falls back they recover. A viewer that is slow to decode is not a congested link: the
window alone paces it (nothing more is sent until it has drawn). Guacamole and RustDesk also
adapt to measured lag rather than to a guessed bandwidth.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

SEQ_MODULO = 1 << 32


@dataclass(frozen=True, slots=True)
class FlowSettings:
    max_updates: int = 3
    max_updates_long: int = 8  # the most updates in flight however long the round trip
    long_link_samples: int = 4  # round trips measured (in the RTT window) before the count may grow
    # Before the throughput is known, and its floor: ~0.17 s at 3 Mbit/s, a few ms on a LAN.
    min_window_bytes: int = 64 * 1024
    min_update_bytes: int = 16 * 1024  # an update may always carry this much: the stream moves on
    target_delay: float = 0.1  # seconds of queueing above the base round trip we accept
    delay_samples: int = 8  # the delay is the median of this many recent round trips: spikes pass
    quality_max: int = 80
    quality_min: int = 35
    quality_step: int = 10
    interval_min: float = 1 / 30
    interval_max: float = 0.25
    adjust_every: float = 0.25  # seconds between two quality/rate decisions
    rtt_window: float = 10.0  # seconds over which the base (minimum) round trip is taken


class FlowControl:
    def __init__(self, settings: FlowSettings | None = None) -> None:
        self.s = settings or FlowSettings()
        self._in_flight: deque[tuple[int, int, float]] = deque()  # (seq, bytes, sent at)
        self._next_seq = 1
        self._rtts: deque[tuple[float, float]] = deque()  # (at, rtt)
        self._acked: deque[tuple[float, int]] = deque()  # (at, bytes) for throughput
        self.quality = self.s.quality_max
        self.interval = self.s.interval_min
        self.last_rtt = 0.0  # send -> ACK, including the viewer's decode time
        self.last_path = 0.0  # the same less the decode time: the link (and relay) alone
        self.last_decode_ms = 0
        self._last_adjust = float("-inf")

    # ---- sending -------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def bytes_in_flight(self) -> int:
        return sum(n for _, n, _ in self._in_flight)

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq = (seq + 1) % SEQ_MODULO or 1
        return seq

    def window_bytes(self) -> int:
        """About one base round trip (plus the accepted delay) of the measured throughput."""
        rate = self.throughput()
        if rate <= 0:
            return self.s.min_window_bytes
        return max(self.s.min_window_bytes, int(rate * (self.base_rtt() + self.s.target_delay)))

    def update_limit(self) -> int:
        """Updates allowed in flight: `max_updates`, or on a long link one per frame interval of the
        base round trip, plus one (decode time does not count: a slow viewer is paced, not fed)."""
        if len(self._rtts) < self.s.long_link_samples:
            return self.s.max_updates  # one late ACK (a viewer that stalled) is no long link
        rtt = self.base_rtt()
        need = math.ceil(rtt / self.s.interval_min) + 1 if rtt > 0 else 0
        return max(self.s.max_updates, min(self.s.max_updates_long, need))

    def budget(self) -> int:
        """Bytes the next update may carry: the room left in the window, at least a minimum."""
        return max(self.s.min_update_bytes, self.window_bytes() - self.bytes_in_flight)

    def can_send(self) -> bool:
        if not self._in_flight:
            return True
        return len(self._in_flight) < self.update_limit() and self.bytes_in_flight < self.window_bytes()

    def on_sent(self, seq: int, nbytes: int, now: float) -> None:
        self._in_flight.append((seq, nbytes, now))

    # ---- feedback ------------------------------------------------------------------------

    def on_ack(self, seq: int, decode_ms: int, now: float) -> bool:
        """Record an ACK (which also covers every earlier update). False if `seq` is not in flight."""
        if not any(s == seq for s, _, _ in self._in_flight):
            return False
        acked = 0
        while self._in_flight:
            s, n, sent = self._in_flight.popleft()
            acked += n
            if s == seq:
                self.last_rtt = max(0.0, now - sent)
                break
        self.last_decode_ms = decode_ms
        self.last_path = max(0.0, self.last_rtt - decode_ms / 1000)
        self._rtts.append((now, self.last_path))
        while self._rtts and self._rtts[0][0] < now - self.s.rtt_window:
            self._rtts.popleft()
        self._acked.append((now, acked))
        while self._acked and self._acked[0][0] < now - 2.0:
            self._acked.popleft()
        self._adjust(now)
        return True

    def base_rtt(self) -> float:
        """The smallest recent round trip on the way (without decode time)."""
        return min((r for _, r in self._rtts), default=0.0)

    def throughput(self) -> float:
        """Acknowledged bytes per second over the last two seconds (0 until measurable)."""
        if len(self._acked) < 2:
            return 0.0
        span = self._acked[-1][0] - self._acked[0][0]
        if span <= 0.05:
            return 0.0
        return sum(n for _, n in list(self._acked)[1:]) / span

    def delay(self) -> float:
        """How much longer than the base recent round trips took: queueing on the way.

        The median of the last few, so that one late ACK (a busy machine, a garbage collection)
        does not cost quality or frame rate; a queue that builds up moves the median."""
        recent = sorted(r for _, r in list(self._rtts)[-self.s.delay_samples :])
        if not recent:
            return 0.0
        return max(0.0, recent[len(recent) // 2] - self.base_rtt())

    def _adjust(self, now: float) -> None:
        if now - self._last_adjust < self.s.adjust_every:
            return
        self._last_adjust = now
        s = self.s
        if self.delay() > s.target_delay:
            if self.quality > s.quality_min:
                self.quality = max(s.quality_min, self.quality - s.quality_step)
            else:
                self.interval = min(s.interval_max, self.interval * 1.5)
        elif self.delay() < s.target_delay / 2:
            if self.interval > s.interval_min:
                self.interval = max(s.interval_min, self.interval / 1.5)
            else:
                self.quality = min(s.quality_max, self.quality + s.quality_step // 2)
