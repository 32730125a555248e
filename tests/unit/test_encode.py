"""Change detection, rectangles, codec choice and ACK flow control of the agent's encoder."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from jiseki.agent.encode.codecs import choose_codec, colour_count, encode_rect
from jiseki.agent.encode.rects import split_rect, tiles_to_rects
from jiseki.agent.encode.stream import DisplayStream
from jiseki.agent.encode.tiles import changed_tiles, components, tile_any
from jiseki.protocol import Ack, Codec, CopyOp, FillOp, ImageOp, Rect, Update

W, H = 640, 360


def blank(w: int = W, h: int = H, colour: tuple[int, int, int] = (40, 40, 40)) -> np.ndarray:
    frame = np.zeros((h, w, 4), dtype=np.uint8)
    frame[..., 0], frame[..., 1], frame[..., 2] = colour[2], colour[1], colour[0]  # BGRA
    frame[..., 3] = 255
    return frame


def text_like(h: int, w: int, seed: int = 1) -> np.ndarray:
    """Black glyph-ish strokes with a few grey anti-aliasing levels on white."""
    rng = np.random.default_rng(seed)
    region = np.full((h, w, 4), 255, dtype=np.uint8)
    levels = np.array([0, 64, 128, 192], dtype=np.uint8)
    mask = rng.random((h, w)) < 0.2
    values = levels[rng.integers(0, 4, size=(h, w))]
    for c in range(3):
        region[..., c][mask] = values[mask]
    return region


def photo_like(h: int, w: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    region = np.empty((h, w, 4), dtype=np.uint8)
    region[..., 0] = (xx * 255 // max(1, w - 1)).astype(np.uint8)
    region[..., 1] = (yy * 255 // max(1, h - 1)).astype(np.uint8)
    region[..., 2] = ((xx + yy) * 255 // max(1, w + h - 2) + rng.integers(0, 12, size=(h, w))).clip(0, 255)
    region[..., 3] = 255
    return region


def decode_image(op: ImageOp) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(op.payload))).convert("RGB"))


def test_identical_frames_have_no_changed_tiles() -> None:
    a = blank()
    assert not changed_tiles(a, a.copy()).any()


def test_one_pixel_change_marks_exactly_its_tile() -> None:
    a = blank()
    b = a.copy()
    b[200, 130, 1] ^= 1
    tiles = changed_tiles(a, b)
    assert tiles.shape == (6, 10)
    assert list(zip(*np.nonzero(tiles), strict=True)) == [(3, 2)]


def test_change_in_partial_edge_tile() -> None:
    a = blank(100, 70)  # 2x2 tiles, the right and bottom ones partial
    b = a.copy()
    b[69, 99] = (1, 2, 3, 255)
    tiles = changed_tiles(a, b)
    assert tiles.tolist() == [[False, False], [False, True]]


@pytest.mark.parametrize("shape", [(128, 192), (130, 200), (63, 65), (1, 1), (64, 1)])
def test_tile_any_matches_each_tile_on_partial_edges(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    mask = rng.random(shape) < 0.002
    mask[-1, -1] = True  # the corner tile, partial in both directions
    h, w = shape
    expected = np.array(
        [[mask[y : y + 64, x : x + 64].any() for x in range(0, w, 64)] for y in range(0, h, 64)], dtype=bool
    )
    assert np.array_equal(tile_any(mask), expected)


def _flood_boxes(tiles: np.ndarray) -> set[tuple[int, int, int, int]]:
    """Reference: 8-connected groups by visiting each tile."""
    todo = {(int(y), int(x)) for y, x in zip(*np.nonzero(tiles), strict=True)}
    boxes = set()
    while todo:
        stack = [todo.pop()]
        ys, xs = [], []
        while stack:
            y, x = stack.pop()
            ys.append(y)
            xs.append(x)
            for n in [(y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]:
                if n in todo:
                    todo.discard(n)
                    stack.append(n)
        boxes.add((min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1))
    return boxes


def test_components_are_the_8_connected_groups() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        h, w = int(rng.integers(1, 12)), int(rng.integers(1, 20))
        tiles = rng.random((h, w)) < rng.random() * 0.6
        found = components(tiles)
        assert {(r.x, r.y, r.w, r.h) for r in found} == _flood_boxes(tiles)
        assert [(r.y, r.x) for r in found] == sorted((r.y, r.x) for r in found)


def test_tiles_to_rects_merges_runs_and_stacks() -> None:
    tiles = np.zeros((4, 5), dtype=bool)
    tiles[0, 1:3] = True
    tiles[1, 1:3] = True  # same run below: one 2x2-tile rectangle
    tiles[3, 4] = True  # a partial tile at the edge
    rects = tiles_to_rects(tiles, width=300, height=250)
    assert rects == [Rect(64, 0, 128, 128), Rect(256, 192, 44, 58)]


def test_split_rect_covers_exactly() -> None:
    pieces = split_rect(Rect(10, 20, 1100, 300), 512, 128)
    assert sum(p.w * p.h for p in pieces) == 1100 * 300
    assert max(p.w for p in pieces) <= 512 and max(p.h for p in pieces) <= 128


def test_solid_area_is_a_fill() -> None:
    op = encode_rect(blank(colour=(10, 200, 30)), Rect(0, 0, 64, 64), 80)
    assert op == FillOp(0, 0, 64, 64, 10, 200, 30)


def test_text_goes_lossless_and_photo_goes_jpeg() -> None:
    assert choose_codec(text_like(64, 256)) == Codec.WEBP
    assert choose_codec(photo_like(128, 256)) == Codec.JPEG
    assert colour_count(text_like(64, 64)) <= 8


@pytest.mark.parametrize("h, w", [(19, 18), (64, 256), (128, 256)])  # small (method 1) and larger (method 0)
def test_webp_lossless_is_exact(h: int, w: int) -> None:
    frame = blank()
    frame[64 : 64 + h, 0:w] = text_like(h, w)
    op = encode_rect(frame, Rect(0, 64, w, h), 80)
    assert isinstance(op, ImageOp) and op.codec == Codec.WEBP
    expected = frame[64 : 64 + h, 0:w, 2::-1]  # BGRA -> RGB
    assert np.array_equal(decode_image(op), expected)


def test_jpeg_is_close() -> None:
    frame = blank()
    frame[0:128, 0:256] = photo_like(128, 256)
    op = encode_rect(frame, Rect(0, 0, 256, 128), 90)
    assert isinstance(op, ImageOp) and op.codec == Codec.JPEG
    diff = np.abs(decode_image(op).astype(int) - frame[0:128, 0:256, 2::-1].astype(int))
    assert diff.mean() < 20


def apply_update(canvas: np.ndarray, update: Update) -> None:
    """What the viewer does, in numpy (RGB canvas)."""
    for op in update.ops:
        if isinstance(op, CopyOp):
            block = canvas[op.sy : op.sy + op.h, op.sx : op.sx + op.w].copy()
            canvas[op.dy : op.dy + op.h, op.dx : op.dx + op.w] = block
        elif isinstance(op, FillOp):
            canvas[op.y : op.y + op.h, op.x : op.x + op.w] = (op.r, op.g, op.b)
        elif isinstance(op, ImageOp):
            canvas[op.y : op.y + op.h, op.x : op.x + op.w] = decode_image(op)


def test_stream_first_update_is_full_then_only_changes() -> None:
    stream = DisplayStream(W, H)
    frame = blank()
    frame[100:164, 100:356] = text_like(64, 256)
    first = stream.next_update(frame)
    assert first is not None and first.seq == 1
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    apply_update(canvas, first)
    assert np.array_equal(canvas, frame[..., 2::-1])
    stream.on_ack(Ack(1, 3))
    assert stream.next_update(frame) is None  # nothing changed: nothing sent
    frame2 = frame.copy()
    frame2[300:310, 600:610] = (0, 0, 255, 255)
    second = stream.next_update(frame2)
    assert second is not None and second.seq == 2
    assert [(op.x, op.y, op.w, op.h) for op in second.ops] == [(600, 300, 10, 10)]  # just the changed pixels
    apply_update(canvas, second)
    assert np.array_equal(canvas, frame2[..., 2::-1])


def test_stream_waits_for_acks_and_merges_damage_meanwhile() -> None:
    stream = DisplayStream(W, H, max_unacked=2)
    frames = [blank()]
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    u1 = stream.next_update(frames[0])
    assert u1 is not None
    apply_update(canvas, u1)
    f = frames[0].copy()
    f[0:10, 0:10] = (0, 0, 255, 255)
    u2 = stream.next_update(f)
    assert u2 is not None and stream.in_flight == 2
    apply_update(canvas, u2)
    # Two updates unacknowledged: further changes are held back, not queued.
    f2 = f.copy()
    f2[200:210, 300:310] = (255, 0, 0, 255)
    assert stream.next_update(f2) is None
    f3 = f2.copy()
    f3[350:360, 630:640] = (0, 255, 0, 255)
    assert stream.next_update(f3) is None
    stream.on_ack(Ack(u1.seq, 5))
    merged = stream.next_update(f3)
    assert merged is not None
    # One update now carries both changes made while blocked.
    apply_update(canvas, merged)
    assert np.array_equal(canvas, f3[..., 2::-1])
    tiles = {(op.x // 64, op.y // 64) for op in merged.ops}
    assert tiles == {(4, 3), (9, 5)}


def test_ack_for_later_seq_covers_earlier() -> None:
    stream = DisplayStream(W, H, max_unacked=2)
    frame = blank()
    u1 = stream.next_update(frame)
    frame = frame.copy()
    frame[0, 0] = 1
    u2 = stream.next_update(frame)
    assert u1 and u2 and not stream.can_send()
    stream.on_ack(Ack(u2.seq, 1))
    assert stream.in_flight == 0
    stream.on_ack(Ack(999, 1))  # unknown seq: ignored
    assert stream.in_flight == 0


def test_refresh_resends_everything() -> None:
    stream = DisplayStream(W, H)
    frame = blank()
    assert stream.next_update(frame) is not None
    stream.on_ack(Ack(1, 1))
    stream.request_refresh()
    again = stream.next_update(frame)
    assert again is not None
    assert sum(op.w * op.h for op in again.ops) == W * H


def test_wrong_frame_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not match"):
        DisplayStream(W, H).next_update(blank(W + 2, H))


def test_a_large_change_goes_out_within_the_window_and_a_key_echo_is_not_stuck_behind_it() -> None:
    """A page of new text over a slow link: each update carries at most the window's room (plus
    the piece that crossed it); a small change made meanwhile comes in the next update, first,
    even when the window system reports only that small area; the viewer converges exactly."""
    from jiseki.agent.encode.flow import FlowControl, FlowSettings

    settings = FlowSettings(max_updates=2, min_window_bytes=20_000, min_update_bytes=4_000)
    stream = DisplayStream(W, H, flow=FlowControl(settings))
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    frame = blank()
    first = stream.next_update(frame, now=0.0)
    assert first is not None
    apply_update(canvas, first)
    stream.on_ack(Ack(first.seq, 1), now=0.01)

    frame = frame.copy()
    frame[:, :] = text_like(H, W, seed=7)  # the whole screen changes: far more than the window
    big = stream.next_update(frame, now=0.1)
    assert big is not None and stream.unsent is not None
    sizes = [len(op.payload) + 16 for op in big.ops if isinstance(op, ImageOp)]
    assert sum(sizes) - max(sizes) < settings.min_window_bytes
    apply_update(canvas, big)
    stream.on_ack(Ack(big.seq, 1), now=0.2)

    echo = Rect(600, 340, 9, 12)  # a key's echo, reported alone by the window system
    frame = frame.copy()
    frame[echo.y : echo.y + echo.h, echo.x : echo.x + echo.w, :3] = (0, 0, 200)
    updates = 0
    while (update := stream.next_update(frame, now=0.3 + updates, hint=echo)) is not None:
        if updates == 0:
            first_op = update.ops[0]
            assert isinstance(first_op, FillOp | ImageOp) and (first_op.x, first_op.y) == (echo.x, echo.y)
        apply_update(canvas, update)
        stream.on_ack(Ack(update.seq, 1), now=0.3 + updates)
        updates += 1
        assert updates < 100
    assert updates >= 1 and stream.unsent is None
    assert np.array_equal(canvas, frame[..., 2::-1])


def test_the_budget_is_the_room_left_in_the_window() -> None:
    from jiseki.agent.encode.flow import FlowControl, FlowSettings

    flow = FlowControl(FlowSettings(max_updates=3, min_window_bytes=50_000, min_update_bytes=5_000))
    assert flow.budget() == 50_000
    flow.on_sent(flow.next_seq(), 30_000, 0.0)
    assert flow.budget() == 20_000
    flow.on_sent(flow.next_seq(), 28_000, 0.0)
    assert flow.budget() == 5_000  # never nothing: the stream always moves on
