"""Scroll and window-move detection, on generated frame pairs (captured pairs: tests/integration)."""

from __future__ import annotations

import numpy as np
import pytest

from jiseki.agent.encode.motion import Move, apply_move, find_moves, matching_rect, row_hashes, vote_vertical
from jiseki.agent.encode.stream import DisplayStream
from jiseki.protocol import Ack, CopyOp, ImageOp, Rect, encode

from .test_encode import apply_update, blank, photo_like

W, H = 800, 600


def text_page(h: int, w: int, seed: int = 3, line: int = 17) -> np.ndarray:
    """Lines of 'glyphs' (random strokes) separated by blank rows, on white: like a terminal."""
    rng = np.random.default_rng(seed)
    region = np.full((h, w, 4), 255, dtype=np.uint8)
    for top in range(0, h, line):
        rows = slice(top + 3, min(h, top + line - 3))
        n = region[rows].shape[0]
        if n <= 0:
            continue
        length = int(rng.integers(w // 4, w))
        strokes = rng.random((n, length)) < 0.25
        levels = rng.choice(np.array([0, 60, 120, 180], dtype=np.uint8), size=(n, length))
        for c in range(3):
            plane = region[rows, :length, c]
            plane[strokes] = levels[strokes]
    return region


def desktop_with_window(doc: np.ndarray, top: int, x: int = 40, y: int = 30, h: int = 400, w: int = 500) -> np.ndarray:
    """A window at (x, y) showing doc[top:top + h] beside a static coloured panel."""
    frame = blank(W, H, (30, 80, 120))
    frame[y : y + h, x : x + w] = doc[top : top + h, :w]
    frame[y : y + h, x + w + 10 : x + w + 200] = photo_like(h, 190, seed=9)  # static neighbour, same rows
    return frame


def test_vertical_scroll_is_found_and_verified() -> None:
    doc = text_page(1200, 500)
    old, new = desktop_with_window(doc, 0), desktop_with_window(doc, 51)
    box = Rect(40, 30, 500, 400)
    moves = find_moves(old, new, box)
    assert moves == [Move(Rect(40, 30 + 51, 500, 400 - 51), 0, -51)]
    picture = old.copy()
    apply_move(picture, moves[0])
    assert np.array_equal(picture[30 : 30 + 400 - 51], new[30 : 30 + 400 - 51])


def test_scroll_down_and_up_both_directions() -> None:
    doc = text_page(1200, 500, seed=5)
    for a, b in ((100, 134), (134, 100)):
        old, new = desktop_with_window(doc, a), desktop_with_window(doc, b)
        moves = find_moves(old, new, Rect(40, 30, 500, 400))
        assert len(moves) == 1 and moves[0].dx == 0 and moves[0].dy == a - b


def test_partial_window_only_its_columns_are_hashed() -> None:
    # The static neighbour shares the rows; the box is the changed columns only, as the stream computes it.
    doc = text_page(1200, 500, seed=7)
    old, new = desktop_with_window(doc, 200), desktop_with_window(doc, 217)
    stream = DisplayStream(W, H)
    stream.reference[:] = old
    stream._refresh = False
    update = stream.next_update(new)
    assert update is not None
    copies = [op for op in update.ops if isinstance(op, CopyOp)]
    assert len(copies) == 1
    copy = copies[0]
    # Columns right of the longest text line never changed: the copy may stop short of them.
    assert (copy.sx, copy.sy, copy.h, copy.dx, copy.dy) == (40, 30 + 17, 400 - 17, 40, 30) and copy.w >= 450


def test_no_move_in_unrelated_change() -> None:
    rng = np.random.default_rng(1)
    old = text_page(H, W, seed=11)
    new = old.copy()
    new[100:300, 100:500, :3] = rng.integers(0, 255, size=(200, 400, 3), dtype=np.uint8)
    assert find_moves(old, new, Rect(100, 100, 400, 200), bytearray(old.tobytes())) == []


def test_blank_rows_do_not_vote() -> None:
    old = blank(W, H, (255, 255, 255))
    new = old.copy()
    new[200:220, 0:W] = (0, 0, 0, 255)
    hashes_old, hashes_new = row_hashes(old, Rect(0, 0, W, H)), row_hashes(new, Rect(0, 0, W, H))
    assert vote_vertical(hashes_old, hashes_new) == []


def test_wrong_candidate_is_rejected_by_verification() -> None:
    doc = text_page(1200, 500, seed=13)
    old, new = desktop_with_window(doc, 0), desktop_with_window(doc, 51)
    assert matching_rect(old, new, Rect(40, 30, 500, 400), 0, -50, (40, 100)) is None


def test_window_drag_in_two_dimensions() -> None:
    win = text_page(300, 400, seed=17)
    win[:20] = (200, 120, 40, 255)  # title bar
    old = blank(W, H, (30, 80, 120))
    new = old.copy()
    old[100:400, 100:500] = win
    new[123:423, 137:537] = win
    box = Rect(100, 100, 437, 323)
    moves = find_moves(old, new, box, bytearray(old.tobytes()))
    assert len(moves) == 1
    move = moves[0]
    assert (move.dx, move.dy) == (37, 23)
    picture = old.copy()
    apply_move(picture, move)
    dst = Rect(move.src.x + 37, move.src.y + 23, move.src.w, move.src.h)
    assert np.array_equal(
        picture[dst.y : dst.y + dst.h, dst.x : dst.x + dst.w], new[dst.y : dst.y + dst.h, dst.x : dst.x + dst.w]
    )
    assert dst.w * dst.h >= 0.9 * 300 * 400


def test_stream_scroll_sends_copy_and_only_the_exposed_strip() -> None:
    doc = text_page(3000, 500, seed=19)
    frames = [desktop_with_window(doc, top) for top in range(0, 51 * 12, 51)]
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    plain = DisplayStream(W, H, detect_moves=False)
    stream = DisplayStream(W, H)
    sizes, plain_sizes = [], []
    for i, frame in enumerate(frames):
        for s, out in ((stream, sizes), (plain, plain_sizes)):
            update = s.next_update(frame, now=i / 30)
            assert update is not None
            s.on_ack(Ack(update.seq, 1), now=i / 30)
            if s is stream:
                apply_update(canvas, update)
                exact = ~s.lossy  # the static photo beside the window went as JPEG
                assert np.array_equal(canvas[exact], frame[..., 2::-1][exact])  # exact after every update
                if i > 0:
                    assert isinstance(update.ops[0], CopyOp)
            if i > 0:
                out.append(len(encode(update)))
    assert sum(sizes) * 4 < sum(plain_sizes)


def test_jpeg_areas_are_refined_losslessly_at_rest() -> None:
    stream = DisplayStream(W, H, refine_after=0.3)
    frame = blank(W, H)
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    first = stream.next_update(frame, now=0.0)
    assert first is not None
    apply_update(canvas, first)
    stream.on_ack(Ack(first.seq, 1), now=0.01)
    frame = frame.copy()
    frame[64:320, 128:512] = photo_like(256, 384)
    lossy = stream.next_update(frame, now=0.1)
    assert lossy is not None and any(isinstance(op, ImageOp) and op.codec.name == "JPEG" for op in lossy.ops)
    apply_update(canvas, lossy)
    stream.on_ack(Ack(lossy.seq, 1), now=0.12)
    assert not np.array_equal(canvas, frame[..., 2::-1])
    assert stream.next_update(frame, now=0.2) is None  # resting, but not for long enough
    assert stream.refine_at() == 0.1 + 0.3
    refined = stream.next_update(frame, now=0.45)
    assert refined is not None and all(not isinstance(op, ImageOp) or op.codec.name == "WEBP" for op in refined.ops)
    apply_update(canvas, refined)
    assert np.array_equal(canvas, frame[..., 2::-1])
    stream.on_ack(Ack(refined.seq, 1), now=0.5)
    assert stream.refine_at() is None
    assert stream.next_update(frame, now=5.0) is None


def test_lossy_marks_move_with_a_copy() -> None:
    # A photo scrolled after being sent as JPEG: the moved pixels are still refined at rest.
    doc = np.concatenate([photo_like(300, 500, seed=4), text_page(900, 500, seed=23)])
    stream = DisplayStream(W, H)
    canvas = np.zeros((H, W, 3), dtype=np.uint8)
    now = 0.0
    for top in (0, 40, 80):
        frame = desktop_with_window(doc, top)
        update = stream.next_update(frame, now=now)
        assert update is not None
        apply_update(canvas, update)
        stream.on_ack(Ack(update.seq, 1), now=now)
        now += 0.05
    # The lossless photo is larger than the window: it comes in a few updates, each within it.
    refinements = 0
    while (refined := stream.next_update(frame, now=now + 1)) is not None:
        apply_update(canvas, refined)
        stream.on_ack(Ack(refined.seq, 1), now=now + 1)
        refinements += 1
        assert refinements < 20
    assert refinements >= 1
    assert np.array_equal(canvas, frame[..., 2::-1])


class _CountingBytes(bytearray):
    searches = 0

    def find(self, *args: object) -> int:  # type: ignore[override]
        type(self).searches += 1
        return super().find(*args)  # type: ignore[arg-type]


def test_window_drag_searches_once_when_one_offset_explains_the_anchors() -> None:
    # Each anchor's substring search scans megabytes; once one offset is found, the other anchors
    # are checked at that offset instead of being searched.
    win = text_page(300, 400, seed=19)
    old = blank(W, H, (30, 80, 120))
    new = old.copy()
    old[100:400, 100:500] = win
    new[90:390, 160:560] = win
    _CountingBytes.searches = 0
    moves = find_moves(old, new, Rect(100, 90, 460, 310), _CountingBytes(old.tobytes()))
    assert [(m.dx, m.dy) for m in moves] == [(60, -10)]
    assert _CountingBytes.searches <= 4  # one anchor's search (its occurrences), not twelve anchors'


def test_a_typed_character_is_not_searched_for_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    # A change across a tile boundary is two tiles; too small for a COPY: no search at all.
    import jiseki.agent.encode.stream as stream_module

    def no_search(*args: object, **kwargs: object) -> list[Move]:
        raise AssertionError("searched for moves")

    monkeypatch.setattr(stream_module, "find_moves", no_search)
    old = text_page(H, W, seed=23)
    new = old.copy()
    new[60:75, 58:70] = (0, 0, 0, 255)  # a glyph straddling the tiles at x=64
    stream = DisplayStream(W, H)
    stream.reference[:] = old
    stream._refresh = False
    update = stream.next_update(new, hint=Rect(58, 60, 12, 15))
    assert update is not None and not any(isinstance(op, CopyOp) for op in update.ops)
