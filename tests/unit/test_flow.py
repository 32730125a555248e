"""The flow-control and quality controller, driven by a simulated clock and viewer."""

from __future__ import annotations

import numpy as np

from jiseki.agent.encode.flow import FlowControl, FlowSettings
from jiseki.agent.encode.stream import DisplayStream
from jiseki.protocol import Ack

from .test_encode import blank, photo_like

PENDING: dict[int, list[tuple[float, int]]] = {}


def run_link(
    flow: FlowControl, rtt: float, steps: int, t: float, size: int = 20_000, dt: float = 0.02, decode_ms: int = 2
) -> float:
    """Send whenever allowed; each update is ACKed `rtt` seconds after it was sent. Returns the end time."""
    pending = PENDING.setdefault(id(flow), [])
    for _ in range(steps):
        t += dt
        for due, seq in [p for p in pending if p[0] <= t]:
            flow.on_ack(seq, decode_ms, due)
            pending.remove((due, seq))
        while flow.can_send():
            seq = flow.next_seq()
            flow.on_sent(seq, size, t)
            pending.append((t + rtt, seq))
    return t


def test_window_limits_updates_and_bytes() -> None:
    flow = FlowControl(FlowSettings(max_updates=3, min_window_bytes=50_000))
    for i in range(3):
        assert flow.can_send()
        flow.on_sent(flow.next_seq(), 20_000, i * 0.01)
    assert flow.in_flight == 3 and not flow.can_send()  # bytes (60 k >= 50 k) and count both full
    assert flow.on_ack(2, 5, 0.1)  # covers 1 and 2
    assert flow.in_flight == 1 and flow.can_send()
    assert not flow.on_ack(99, 5, 0.2)  # unknown: ignored


def test_one_update_always_allowed_whatever_its_size() -> None:
    flow = FlowControl(FlowSettings(min_window_bytes=1000))
    assert flow.can_send()
    flow.on_sent(flow.next_seq(), 5_000_000, 0.0)
    assert not flow.can_send()


def test_quality_then_rate_go_down_when_delay_grows_and_recover() -> None:
    flow = FlowControl(FlowSettings(quality_max=80, quality_min=40))
    t = run_link(flow, 0.01, 200, 0.0)  # fast link: base RTT 10 ms
    assert flow.quality == 80 and flow.interval == flow.s.interval_min
    t = run_link(flow, 0.5, 300, t)  # queueing: 490 ms above base
    assert flow.quality == 40
    assert flow.interval > flow.s.interval_min
    run_link(flow, 0.01, 1500, t + 1.0)
    assert flow.quality == 80 and flow.interval == flow.s.interval_min


def test_sequence_numbers_wrap_and_skip_zero() -> None:
    flow = FlowControl()
    flow._next_seq = (1 << 32) - 1
    assert flow.next_seq() == (1 << 32) - 1
    assert flow.next_seq() == 1


def test_viewer_that_stops_acknowledging_keeps_the_stream_bounded() -> None:
    # Frames keep changing (a video-like area) but no ACK ever comes: the stream sends at most
    # the window, keeps no queue, and its state does not grow.
    w, h = 640, 360
    stream = DisplayStream(w, h, max_unacked=3)
    frame = blank(w, h)
    sent = 0
    for i in range(300):
        frame = frame.copy()
        frame[40:200, 40:400] = photo_like(160, 360, seed=i)
        if stream.next_update(frame, now=i / 30) is not None:
            sent += 1
    assert sent <= 3
    assert stream.in_flight <= 3
    assert stream.flow.bytes_in_flight < 1_000_000
    # Once the viewer answers, the next update carries the latest picture (damage merged, not queued).
    stream.on_ack(Ack(sent, 1), now=10.0)
    update = stream.next_update(frame, now=10.0)
    assert update is not None and update.seq == sent + 1
    assert np.array_equal(stream.reference, frame)


def test_a_viewer_slow_to_decode_is_not_a_congested_link() -> None:
    flow = FlowControl(FlowSettings(quality_max=80, quality_min=40))
    t = run_link(flow, 0.01, 200, 0.0)
    # Round trips of 300 ms, of which the viewer spent 290 ms decoding: the link is fine.
    run_link(flow, 0.3, 300, t, decode_ms=290)
    assert flow.quality == 80 and flow.interval == flow.s.interval_min


def test_isolated_late_acks_do_not_cost_quality() -> None:
    flow = FlowControl(FlowSettings(quality_max=80, quality_min=40))
    t = 0.0
    seq = 0
    for i in range(400):  # one round trip in four takes 400 ms; the others 10 ms
        t += 0.05
        seq = flow.next_seq()
        flow.on_sent(seq, 10_000, t)
        flow.on_ack(seq, 1, t + (0.4 if i % 4 == 0 else 0.01))
    assert flow.quality == 80 and flow.interval == flow.s.interval_min


def test_a_long_link_keeps_one_update_per_frame_interval_in_flight() -> None:
    """90 ms away, two updates in flight would mean ~15 pictures a second whatever the screen does:
    the count follows the base round trip (at 30 frames/s: 4), within the byte window."""
    settings = FlowSettings(max_updates=2, interval_min=1 / 30, min_window_bytes=1_000_000)
    near, far = FlowControl(settings), FlowControl(settings)
    run_link(near, 0.002, 50, 0.0, size=2_000)
    run_link(far, 0.090, 50, 0.0, size=2_000)
    assert near.update_limit() == 2
    assert far.update_limit() == 4
    sent = 0
    while far.can_send():
        far.on_sent(far.next_seq(), 2_000, 2.0)
        sent += 1
    assert far.in_flight == 4
    # A viewer that stalled for seconds once is no long link: one sample does not grow the count.
    stalled = FlowControl(settings)
    stalled.on_sent(stalled.next_seq(), 2_000, 0.0)
    stalled.on_ack(1, 1, 5.0)
    assert stalled.update_limit() == 2
    # However long the link, never more than max_updates_long.
    very_far = FlowControl(settings)
    run_link(very_far, 1.5, 400, 0.0, size=2_000)
    assert very_far.update_limit() == settings.max_updates_long
