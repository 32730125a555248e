"""The link emulator (bench/shaper.py): what arrives, in which order, never earlier than the link
allows. No upper bounds on time except one with a wide margin (pipelining: delays must not add up)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.shaper import PROFILES, Profile, Shaper


class Sink:
    """A TCP server that records what it receives (and echoes it back when asked to)."""

    def __init__(self, echo: bool = False, read: bool = True) -> None:
        self.echo, self.read = echo, read
        self.data = bytearray()
        self.times: list[tuple[float, int]] = []  # (monotonic, total bytes so far)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.read:
                threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            self.data += chunk
            self.times.append((time.monotonic(), len(self.data)))
            if self.echo:
                conn.sendall(chunk)

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.data) < n and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.close()


def shaped(sink: Sink, profile: Profile, seed: int = 0) -> tuple[Shaper, socket.socket]:
    shaper = Shaper("127.0.0.1", sink.port, profile, seed=seed)
    return shaper, socket.create_connection(("127.0.0.1", shaper.port))


def test_profiles() -> None:
    assert set(PROFILES) == {"loopback", "vpn-office", "lte-good", "lte-poor"}
    assert not PROFILES["loopback"].shaped
    poor = PROFILES["lte-poor"]
    assert (poor.down_bps, poor.up_bps, poor.rtt, poor.jitter) == (3e6, 1e6, 0.090, 0.020)
    assert (poor.drop_every, poor.drop_seconds) == (60.0, 2.0)
    assert PROFILES["lte-good"].down_bps > PROFILES["lte-good"].up_bps  # down = towards the viewer


def test_a_small_message_arrives_whole_and_not_before_the_delay(sink: Sink) -> None:
    shaper, conn = shaped(sink, Profile("t", rtt=0.2))
    try:
        t0 = time.monotonic()
        conn.sendall(b"hello")
        sink.wait_for(5)
        assert bytes(sink.data) == b"hello"
        assert sink.times[0][0] - t0 >= 0.1  # one way = half the round trip
    finally:
        conn.close()
        shaper.close()


def test_delays_are_pipelined_not_added(sink: Sink) -> None:
    """20 messages 5 ms apart over a 100 ms one-way line: the line holds them all at once (a proxy
    that sleeps per chunk would take 2 s)."""
    shaper, conn = shaped(sink, Profile("t", rtt=0.2))
    try:
        t0 = time.monotonic()
        for i in range(20):
            conn.sendall(b"%02d" % i)
            time.sleep(0.005)
        sink.wait_for(40)
        assert bytes(sink.data) == b"".join(b"%02d" % i for i in range(20))
        assert sink.times[-1][0] - t0 < 1.0
    finally:
        conn.close()
        shaper.close()


def test_the_rate_cap_is_a_lower_bound_on_arrival(sink: Sink) -> None:
    rate = 2e6  # bits per second up: 250 kB/s
    n = 150_000
    shaper, conn = shaped(sink, Profile("t", up_bps=rate))
    try:
        t0 = time.monotonic()
        conn.sendall(b"x" * n)
        sink.wait_for(n)
        assert len(sink.data) == n
        # The first piece may leave at once; the rest is serialised at the rate.
        assert sink.times[-1][0] - t0 >= (n - 16384) / (rate / 8)
        assert shaper.bytes["up"] == n
    finally:
        conn.close()
        shaper.close()


@settings(max_examples=15)
@given(
    sizes=st.lists(st.integers(1, 40_000), min_size=1, max_size=12),
    jitter=st.sampled_from([0.0, 0.005, 0.03]),
    rate=st.sampled_from([0.0, 4e6, 40e6]),
    seed=st.integers(0, 1000),
)
def test_bytes_arrive_complete_and_in_order_under_jitter(
    sizes: list[int], jitter: float, rate: float, seed: int
) -> None:
    """Jitter larger than the delay itself: pieces would overtake each other if order were not kept.
    Both directions: the sink echoes everything back."""
    sink = Sink(echo=True)
    shaper, conn = shaped(sink, Profile("t", down_bps=rate, up_bps=rate, rtt=0.01, jitter=jitter), seed)
    try:
        sent = b"".join(bytes([(seed + i) % 251]) * size + i.to_bytes(4, "big") for i, size in enumerate(sizes))
        back = bytearray()

        def receive() -> None:
            while len(back) < len(sent):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                back.extend(chunk)

        reader = threading.Thread(target=receive)
        reader.start()
        for i in range(0, len(sent), 7000):
            conn.sendall(sent[i : i + 7000])
        reader.join(30)
        assert bytes(sink.data) == sent
        assert bytes(back) == sent
        assert shaper.bytes == {"up": len(sent), "down": len(sent)}
    finally:
        conn.close()
        shaper.close()
        sink.close()


def test_a_stall_delivers_nothing_during_it_and_everything_after(sink: Sink) -> None:
    shaper, conn = shaped(sink, Profile("t", rtt=0.02))
    try:
        conn.sendall(b"before")
        sink.wait_for(6)
        shaper.stall(1.0)
        t0 = time.monotonic()
        time.sleep(0.05)
        for i in range(10):
            conn.sendall(b"during%d" % i)
            time.sleep(0.05)
        while time.monotonic() - t0 < 0.9:
            assert bytes(sink.data) == b"before", "bytes went through a stalled link"
            time.sleep(0.01)
        sink.wait_for(6 + 70)
        assert bytes(sink.data) == b"before" + b"".join(b"during%d" % i for i in range(10))
        assert sink.times[1][0] - t0 >= 1.0
        assert shaper.stalls == 1
    finally:
        conn.close()
        shaper.close()


def test_scheduled_drops(sink: Sink) -> None:
    shaper, conn = shaped(sink, Profile("t", drop_every=0.3, drop_seconds=0.2))
    try:
        time.sleep(1.0)
        conn.sendall(b"still open")
        sink.wait_for(10)
        assert bytes(sink.data) == b"still open"
        assert shaper.stalls >= 2
    finally:
        conn.close()
        shaper.close()


def test_a_receiver_that_stops_reading_pushes_back_on_the_sender() -> None:
    """The line holds about a bandwidth-delay product plus a small buffer, not all the sender has."""
    sink = Sink(read=False)
    shaper, conn = shaped(sink, Profile("t", up_bps=1e6, rtt=0.1))
    try:
        conn.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                sent += conn.send(b"z" * 65536)
            except BlockingIOError:
                time.sleep(0.01)
        limit = 1e6 / 8 * (0.1 + 0.05) + 1460
        assert 0 < shaper.peak_queued <= limit + 65536  # at most one read beyond the bound
        assert sent > shaper.peak_queued  # the rest waits in the sockets, on the sender's side
    finally:
        conn.close()
        shaper.close()
        sink.close()


def test_cut_breaks_connections_and_refuses_new_ones_until_restored(sink: Sink) -> None:
    shaper, conn = shaped(sink, Profile("t"))
    try:
        conn.sendall(b"a")
        sink.wait_for(1)
        shaper.cut()
        conn.settimeout(2)
        with pytest.raises((ConnectionError, OSError)):
            if conn.recv(1) == b"":
                raise ConnectionResetError
        refused = socket.create_connection(("127.0.0.1", shaper.port))
        refused.settimeout(2)
        with pytest.raises((ConnectionError, OSError)):
            if refused.recv(1) == b"":
                raise ConnectionResetError
        refused.close()
        shaper.restore()
        again = socket.create_connection(("127.0.0.1", shaper.port))
        again.sendall(b"b")
        sink.wait_for(2)
        assert bytes(sink.data) == b"ab"
        again.close()
    finally:
        conn.close()
        shaper.close()
