"""The window system's move hints (DXGI's move rects) in the encoder: used when the pixels agree."""

from __future__ import annotations

import numpy as np

from jiseki.agent.capture.base import MoveHint
from jiseki.agent.encode.stream import DisplayStream
from jiseki.protocol import Ack, CopyOp, Rect, Update, encode

from .test_encode import apply_update
from .test_motion import H, W, desktop_with_window, text_page

BOX = Rect(40, 30, 500, 400)  # the scrolling window of desktop_with_window
STEP = 51


def first_then(
    stream: DisplayStream, old: np.ndarray, new: np.ndarray, moves: list[MoveHint]
) -> tuple[Update, np.ndarray]:
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    first = stream.next_update(old, now=0.0)
    assert first is not None
    apply_update(canvas, first)
    stream.on_ack(Ack(first.seq, 1), now=0.01)
    update = stream.next_update(new, now=0.1, hint=BOX, moves=moves)
    assert update is not None
    apply_update(canvas, update)
    return update, canvas


def scroll_pair() -> tuple[np.ndarray, np.ndarray]:
    doc = text_page(1200, 500, seed=7)
    return desktop_with_window(doc, 0), desktop_with_window(doc, STEP)


def exact(stream: DisplayStream, canvas: np.ndarray, frame: np.ndarray) -> bool:
    keep = ~stream.lossy
    return bool(np.array_equal(canvas[keep], frame[..., 2::-1][keep]))


def test_a_right_hint_becomes_one_copy_and_saves_bytes() -> None:
    old, new = scroll_pair()
    # Content moved up by STEP inside the window: what was at rows 30+STEP.. is now at row 30.
    hint = MoveHint(Rect(BOX.x, BOX.y + STEP, BOX.w, BOX.h - STEP), 0, -STEP)
    hinted = DisplayStream(W, H, detect_moves=False)
    update, canvas = first_then(hinted, old, new, [hint])
    plain = DisplayStream(W, H, detect_moves=False)
    without, _ = first_then(plain, old, new, [])
    copies = [op for op in update.ops if isinstance(op, CopyOp)]
    assert copies == [CopyOp(BOX.x, BOX.y + STEP, BOX.w, BOX.h - STEP, BOX.x, BOX.y)]
    assert update.ops[0] == copies[0]  # before the tiles
    assert exact(hinted, canvas, new)
    assert not any(isinstance(op, CopyOp) for op in without.ops)
    assert len(encode(update)) * 3 < len(encode(without))


def test_a_wrong_hint_is_ignored_and_the_picture_stays_exact() -> None:
    old, new = scroll_pair()
    wrong = MoveHint(Rect(BOX.x, BOX.y + 20, BOX.w, BOX.h - 20), 0, -20)  # a stale distance
    stream = DisplayStream(W, H, detect_moves=False)
    update, canvas = first_then(stream, old, new, [wrong])
    assert not any(isinstance(op, CopyOp) for op in update.ops)
    assert exact(stream, canvas, new)


def test_a_hint_past_the_screen_edge_is_clipped_and_a_null_move_skipped() -> None:
    page = text_page(H + STEP, W, seed=11)
    old, new = page[:H].copy(), page[STEP:].copy()  # the whole screen scrolled
    hint = MoveHint(Rect(0, STEP, W, H), 0, -STEP)  # reaches STEP rows past the bottom
    stream = DisplayStream(W, H, detect_moves=False)
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    first = stream.next_update(old)
    assert first is not None
    apply_update(canvas, first)
    stream.on_ack(Ack(first.seq, 1))
    update = stream.next_update(new, 0.1, None, [MoveHint(Rect(0, 0, W, H), 0, 0), hint])
    assert update is not None
    apply_update(canvas, update)
    assert [op for op in update.ops if isinstance(op, CopyOp)] == [CopyOp(0, STEP, W, H - STEP, 0, 0)]
    assert exact(stream, canvas, new)


def test_hints_then_the_pixel_search_still_exact() -> None:
    old, new = scroll_pair()
    hint = MoveHint(Rect(BOX.x, BOX.y + STEP, BOX.w, BOX.h - STEP), 0, -STEP)
    stream = DisplayStream(W, H)  # the pixel search runs on what the hint left
    update, canvas = first_then(stream, old, new, [hint])
    assert isinstance(update.ops[0], CopyOp)
    assert exact(stream, canvas, new)
