"""A link emulator: a user-space TCP proxy that gives a loopback connection the shape of a mobile
network (bandwidth cap and one-way delay per direction, jitter, short drops). TLS passes through
untouched. It runs its own event loop in a thread, so synchronous code (Playwright, benchmarks) can
drive it.

Per direction, bytes read from one side are cut into pieces (about 5 ms of the link's rate, 1.5 to
16 KB) that go through a model of a bottleneck:
  serialisation  a piece leaves the bottleneck when the previous one has left, plus size / rate;
  delay line     it is released to the other side at departure + one-way delay (+ jitter), never
                 before the piece ahead of it (TCP delivers in order: jitter must not reorder bytes);
  queue          while the line holds more than a bandwidth-delay product plus a modest buffer, the
                 proxy stops reading, so the sender's TCP feels the backpressure of a real queue.
A stall forwards nothing in either direction for a while, connections stay open (an LTE coverage
hole: TCP retransmits and catches up afterwards); `cut()` aborts every connection and refuses new
ones until `restore()`.

`tc qdisc ... netem` is not available on the benchmark machine (its kernel has no sch_netem:
"Specified qdisc kind is unknown", also inside a network namespace; `tbf` works but only caps the
rate), so this runs in user space.
"""

from __future__ import annotations

import asyncio
import collections
import random
import socket
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """A link's shape. "down" is towards the viewer (browser), "up" towards the server."""

    name: str
    down_bps: float = 0.0  # bits per second; 0 = no cap
    up_bps: float = 0.0
    rtt: float = 0.0  # seconds, split evenly between the two directions
    jitter: float = 0.0  # seconds, +- on each piece's one-way delay (order kept)
    drop_every: float = 0.0  # seconds between scheduled stalls; 0 = none
    drop_seconds: float = 0.0  # length of each scheduled stall

    @property
    def shaped(self) -> bool:
        return bool(self.down_bps or self.up_bps or self.rtt or self.jitter or self.drop_every)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("loopback"),
        Profile("vpn-office", down_bps=50e6, up_bps=50e6, rtt=0.015),
        Profile("lte-good", down_bps=20e6, up_bps=5e6, rtt=0.040),
        Profile("lte-poor", down_bps=3e6, up_bps=1e6, rtt=0.090, jitter=0.020, drop_every=60.0, drop_seconds=2.0),
    )
}

UNCAPPED_QUEUE = 1 << 20  # bytes a direction may hold when it has no rate cap
QUEUE_BUFFER = 0.05  # seconds of the rate held beyond the bandwidth-delay product (a modest bottleneck buffer)
SOCKET_BUFFER = 64 * 1024  # the proxy's own socket receive buffers: small, so the queue above is what counts


class Direction:
    """One direction of one connection: bottleneck, delay line and stall, as described above."""

    def __init__(self, shaper: Shaper, key: str, bps: float, delay: float) -> None:
        self.shaper = shaper
        self.key = key
        self.rate = bps / 8  # bytes per second
        self.delay = delay
        self.piece = int(min(16384, max(1460, self.rate * 0.005))) if self.rate else 65536
        self.limit = int(self.rate * (2 * delay + QUEUE_BUFFER)) + self.piece if self.rate else UNCAPPED_QUEUE
        self.line: collections.deque[tuple[float, bytes]] = collections.deque()
        self.queued = 0
        self.departed = 0.0  # when the last piece leaves the bottleneck
        self.released = 0.0  # release time of the last piece (order)
        self.changed = asyncio.Event()

    def push(self, data: bytes, now: float) -> None:
        for i in range(0, len(data), self.piece):
            piece = data[i : i + self.piece]
            start = max(now, self.departed, self.shaper.stall_until)
            self.departed = start + (len(piece) / self.rate if self.rate else 0.0)
            jitter = self.shaper.rng.uniform(-self.shaper.jitter, self.shaper.jitter) if self.shaper.jitter else 0.0
            self.released = max(self.released, self.departed + max(0.0, self.delay + jitter))
            self.line.append((self.released, piece))
            self.queued += len(piece)
        self.shaper.peak_queued = max(self.shaper.peak_queued, self.queued)
        self.changed.set()

    async def read_side(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self.queued > self.limit:  # backpressure: the sender waits, as behind a full queue
                self.changed.clear()
                await self.changed.wait()
            data = await reader.read(65536)
            if not data:
                break
            self.push(data, loop.time())
        self.line.append((self.released, b""))  # end of stream, in order behind the data
        self.changed.set()

    async def write_side(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.line:
                self.changed.clear()
                await self.changed.wait()
                continue
            now = loop.time()
            wait = max(self.line[0][0], self.shaper.stall_until) - now
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            out: list[bytes] = []
            while self.line and self.line[0][0] <= now:  # everything due, in one write
                _, piece = self.line.popleft()
                if not piece:
                    if out:
                        self.shaper.bytes[self.key] += sum(map(len, out))
                        writer.write(b"".join(out))
                    await writer.drain()
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                out.append(piece)
            data = b"".join(out)
            self.queued -= len(data)
            self.shaper.bytes[self.key] += len(data)  # counted before the peer can see them
            writer.write(data)
            self.changed.set()
            await writer.drain()


class Shaper:
    """The proxy: listens on 127.0.0.1:`port`, forwards to the target through the profile's link."""

    def __init__(self, target_host: str, target_port: int, profile: Profile | None = None, seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self.profile = profile or PROFILES["loopback"]
        self.jitter = self.profile.jitter
        self.rng = random.Random(seed)
        self.port = 0
        self.down = False
        self.stall_until = 0.0  # loop time
        self.stalls = 0
        self.bytes = {"up": 0, "down": 0}  # delivered, per direction
        self.peak_queued = 0  # the most bytes one direction's line has held (the queue bound, for tests)
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shaper", daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the shaper did not start")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        if self.profile.drop_every > 0:
            self._loop.create_task(self._drops())
        self._ready.set()
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)  # closed: let every connection's tasks end quietly
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _drops(self) -> None:
        while True:
            await asyncio.sleep(self.profile.drop_every)
            self._stall(self.profile.drop_seconds)

    def _stall(self, seconds: float) -> None:
        self.stall_until = max(self.stall_until, self._loop.time() + seconds)
        self.stalls += 1

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        self._writers |= {writer, up_writer}
        p = self.profile
        up = Direction(self, "up", p.up_bps, p.rtt / 2)
        down = Direction(self, "down", p.down_bps, p.rtt / 2)
        coros = [up.read_side(reader), up.write_side(up_writer), down.read_side(up_reader), down.write_side(writer)]
        tasks = [asyncio.ensure_future(c) for c in coros]
        try:
            await asyncio.gather(*tasks)
        except (ConnectionError, OSError):
            pass
        finally:
            for task in tasks:  # one side broke: the others would wait for ever
                task.cancel()
            for w in (writer, up_writer):
                w.transport.abort() if self.down else w.close()
            self._writers -= {writer, up_writer}

    def stall(self, seconds: float) -> None:
        """Nothing is forwarded in either direction for `seconds` from now; connections stay open."""
        self._loop.call_soon_threadsafe(self._stall, seconds)

    def stalled(self) -> bool:
        return self._loop.time() < self.stall_until

    def cut(self) -> None:
        """The link goes down: every connection is broken (no close handshake), new ones fail."""

        def abort() -> None:
            self.down = True
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(abort)
        time.sleep(0.1)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(lambda: setattr(self, "down", False))
        time.sleep(0.1)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self.cut()

        def stop() -> None:
            self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(5)
