"""The display stream of one session: frames in, UPDATEs out, paced by the viewer's ACKs.

Pure logic (no I/O; the caller passes the clock). The stream keeps `reference`, the picture the
viewer will have once it has drawn every update sent. While the flow-control window is full it
sends nothing and keeps no queue: the next update is computed against the reference, so all
changes made in the meantime are merged into it.

One update, in order: `COPY` for each verified scroll or window move (applied to the reference
first: the window system's move hints, e.g. DXGI's move rects, then those found in the pixels),
then the remaining changed pixels as tight rectangles: solid -> `FILL`, text/UI -> WebP lossless,
photographic -> JPEG at the quality the flow controller allows. Areas sent as JPEG are
remembered (`lossy`, per pixel, moved along with COPY) and resent losslessly once the screen has
rested for `refine_after` seconds. With a `video` path (the viewer decodes video), a detected
moving rectangle goes as a video stream instead (`videostream`), lossy like JPEG.

An update carries at most what the flow controller's window has room for (`FlowControl.budget`),
smallest pieces first (a key's echo before a page of text): what did not fit is simply not yet in
the reference, so the next update finds it again; `unsent` is its box, for the caller to look there
again even if the window system reports no new drawing.
"""

from __future__ import annotations

import numpy as np

from jiseki.protocol import Ack, Codec, CopyOp, ImageOp, Op, Rect, Update, VideoOp

from ..capture.base import MoveHint
from .codecs import encode_rect
from .flow import SEQ_MODULO, FlowControl, FlowSettings
from .motion import MIN_COPY_PIXELS, MIN_COPY_ROWS, Move, RowHashCache, apply_move, find_moves, same_pixels
from .rects import split_rect, tiles_to_rects, union
from .tiles import TILE, Diff, all_tiles, components, tile_any
from .videostream import VideoPath

__all__ = ["SEQ_MODULO", "DisplayStream"]

OP_OVERHEAD = 16  # bytes of an operation's header, for the in-flight byte count


def _op_size(op: Op) -> int:
    return OP_OVERHEAD + (len(op.payload) if isinstance(op, ImageOp | VideoOp) else 0)


def _area(moves: list[Move]) -> int:
    return sum(m.src.w * m.src.h for m in moves)


class DisplayStream:
    def __init__(
        self,
        width: int,
        height: int,
        *,
        max_unacked: int = 3,
        jpeg_quality: int = 80,
        refine_after: float = 0.3,
        detect_moves: bool = True,
        flow: FlowControl | None = None,
    ) -> None:
        self.width = width
        self.height = height
        self.flow = flow or FlowControl(FlowSettings(max_updates=max_unacked, quality_max=jpeg_quality))
        self.refine_after = refine_after
        self.detect_moves = detect_moves
        # The reference lives in a bytearray so that the 2-D move search can run CPython's
        # substring search over it without copying 8 MB per frame.
        self._ref_buf = bytearray(width * height * 4)
        self.reference = np.frombuffer(self._ref_buf, dtype=np.uint8).reshape(height, width, 4)
        self.lossy = np.zeros((height, width), dtype=bool)
        self._lossy_any = False
        self._refresh = True
        self._last_change = float("-inf")
        self._hashes = RowHashCache()
        self.unsent: Rect | None = None  # changed pixels the last update had no room for
        self.video: VideoPath | None = None  # set once the viewer's HELLO says it decodes video

    @property
    def in_flight(self) -> int:
        return self.flow.in_flight

    def can_send(self) -> bool:
        return self.flow.can_send()

    def request_refresh(self) -> None:
        self._refresh = True

    @property
    def refresh_pending(self) -> bool:
        return self._refresh

    def on_ack(self, ack: Ack, now: float = 0.0) -> None:
        """ACKs arrive in order; one for seq N also covers everything before N."""
        self.flow.on_ack(ack.seq, ack.decode_ms, now)

    def refine_at(self) -> float | None:
        """When lossy areas are due to be resent losslessly (if nothing changes before), or None."""
        return self._last_change + self.refine_after if self._lossy_any else None

    def next_update(
        self, frame: np.ndarray, now: float = 0.0, hint: Rect | None = None, moves: list[MoveHint] | None = None
    ) -> Update | None:
        """The UPDATE that brings the viewer to `frame`, or None (nothing to send, or must wait).

        `hint` is where the window system reported drawing since the last call (None: anywhere);
        `moves` what it reported as moved (each is checked against the pixels before it is used)."""
        if frame.shape != (self.height, self.width, 4):
            raise ValueError(f"frame shape {frame.shape} does not match the desktop {self.width}x{self.height}")
        if not self.can_send():
            return None
        if self._refresh:
            self._refresh = False
            self._last_change = now
            self.unsent = None
            # Whole, whatever its size: the reference is not what the viewer shows until then.
            whole, _ = self._encode_tiles(frame, all_tiles(self.height, self.width))
            return self._emit(self._end_video() + whole, now)
        if hint is not None and self.unsent is not None:
            hint = union([hint, self.unsent])
        self.unsent = None
        diff = Diff(self.reference, frame, hint)
        if not diff.any():
            refine = self.refine_at()
            if refine is not None and now >= refine:
                return self._emit(self._end_video() + self._refine(frame), now)
            return None
        self._last_change = now
        ops: list[Op] = list(self._hinted_moves(frame, diff, moves or []))
        if self.detect_moves:
            ops.extend(self._moves(frame, diff))
        if (video := self.video) is not None:  # read once: the session may set it meanwhile
            ops.extend(self._video(video, frame, diff, now))
        room = max(self.flow.s.min_update_bytes, self.flow.budget() - sum(_op_size(op) for op in ops))
        pieces, self.unsent = self._encode_tiles(frame, diff.tiles(), diff, budget=room)
        return self._emit(ops + pieces, now)

    # ---- parts -----------------------------------------------------------------------------

    def _apply(self, move: Move, frame: np.ndarray, diff: Diff) -> CopyOp:
        """A verified move: the reference does what the viewer's COPY will do, its destination is done.

        Verified means the frame's destination equals the reference's source: copying it from the
        frame gives the same pixels without the temporary copy an overlapping move needs."""
        dst = Rect(move.src.x + move.dx, move.src.y + move.dy, move.src.w, move.src.h)
        ys, xs = slice(dst.y, dst.y + dst.h), slice(dst.x, dst.x + dst.w)
        self.reference[ys, xs] = frame[ys, xs]
        if self._lossy_any:
            apply_move(self.lossy, move)
        diff.clear(dst)
        return move.op()

    def _hinted_moves(self, frame: np.ndarray, diff: Diff, hints: list[MoveHint]) -> list[CopyOp]:
        """The window system's moves whose pixels check out: the reference's source area must equal
        the frame at the destination (a cheap comparison where a search would cost much more).
        Each is checked after the previous ones were applied, as the viewer will run them."""
        ops: list[CopyOp] = []
        for h in hints:
            if h.dx == 0 and h.dy == 0:
                continue
            # The part of the source whose destination is on the screen too.
            x0, y0 = max(h.src.x, 0, -h.dx), max(h.src.y, 0, -h.dy)
            x1 = min(h.src.x + h.src.w, self.width, self.width - h.dx)
            y1 = min(h.src.y + h.src.h, self.height, self.height - h.dy)
            if x1 <= x0 or y1 <= y0:
                continue
            old = self.reference[y0:y1, x0:x1]
            new = frame[y0 + h.dy : y1 + h.dy, x0 + h.dx : x1 + h.dx]
            if not same_pixels(old, new):
                continue  # stale or wrong: the pixel search and the tiles handle that area
            if same_pixels(self.reference[y0 + h.dy : y1 + h.dy, x0 + h.dx : x1 + h.dx], new):
                continue  # the destination did not change (e.g. moved blank space): nothing to copy
            ops.append(self._apply(Move(Rect(x0, y0, x1 - x0, y1 - y0), h.dx, h.dy), frame, diff))
        if ops:
            self._hashes.clear()  # its rows are the last frame's: the reference moved since
        return ops

    def _moves(self, frame: np.ndarray, diff: Diff) -> list[CopyOp]:
        """Find, verify and apply to the reference the scrolls and window moves in each changed area."""
        ops: list[CopyOp] = []
        video = self.video
        for comp in components(diff.tiles()):
            if comp.w * comp.h < 2:
                continue
            area = Rect(
                comp.x * TILE,
                comp.y * TILE,
                min(self.width, (comp.x + comp.w) * TILE) - comp.x * TILE,
                min(self.height, (comp.y + comp.h) * TILE) - comp.y * TILE,
            )
            box = diff.box(area)
            if box is None or box.h < MIN_COPY_ROWS or box.w * box.h < MIN_COPY_PIXELS:
                continue  # too small for any move to be worth a COPY (a typed character)
            if video is not None and video.covers(box):
                continue  # (a video stream's pictures are no moves: the search would cost 15 ms a look)
            moves = find_moves(self.reference, frame, box, self._ref_buf, self._hashes)
            if _area(moves) * 2 < box.w * box.h:
                # Windows side by side that change in the same rows: look at each one's columns.
                groups = diff.column_groups(box)
                if len(groups) > 1:
                    alt = [m for g in groups for m in find_moves(self.reference, frame, g, self._ref_buf)]
                    if _area(alt) > _area(moves):
                        moves = alt
            # Verified: the destination now equals the frame. Elsewhere the reference is unchanged.
            ops.extend(self._apply(move, frame, diff) for move in moves)
        return ops

    def _encode_tiles(
        self,
        frame: np.ndarray,
        tiles: np.ndarray,
        diff: Diff | None = None,
        *,
        lossless: bool = False,
        budget: int | None = None,
    ) -> tuple[list[Op], Rect | None]:
        """Encode the tiles' area in pieces; with `diff`, each piece shrunk to its changed pixels.
        With a `budget` (bytes), the smallest pieces first and no more once it is spent: the rest
        stays out of the reference; its box is returned beside the operations."""
        pieces = [
            rect
            for r in tiles_to_rects(tiles, self.width, self.height)
            for piece in split_rect(r)
            if (rect := diff.box(piece) if diff is not None else piece) is not None
        ]
        if budget is not None:
            pieces.sort(key=lambda p: p.w * p.h)
        ops: list[Op] = []
        spent = 0
        quality = self.flow.quality
        for n, rect in enumerate(pieces):
            if budget is not None and spent >= budget:
                return ops, union(pieces[n:])
            op = encode_rect(frame, rect, quality, lossless=lossless)
            ops.append(op)
            spent += _op_size(op)
            ys, xs = slice(rect.y, rect.y + rect.h), slice(rect.x, rect.x + rect.w)
            self.reference[ys, xs] = frame[ys, xs]
            is_lossy = isinstance(op, ImageOp) and op.codec == Codec.JPEG
            self.lossy[ys, xs] = is_lossy
            self._lossy_any = self._lossy_any or is_lossy
        return ops, None

    def _end_video(self) -> list[Op]:
        video = self.video
        return video.end() if video is not None else []

    def _video(self, video: VideoPath, frame: np.ndarray, diff: Diff, now: float) -> list[Op]:
        """The video path's operations; the area it sent is done (and lossy, like JPEG)."""
        look = video.look(frame, diff, now, video.bitrate(self.flow.quality, self.flow.s.quality_max))
        r = look.sent
        if r is not None:
            ys, xs = slice(r.y, r.y + r.h), slice(r.x, r.x + r.w)
            self.reference[ys, xs] = frame[ys, xs]
            self.lossy[ys, xs] = True
            self._lossy_any = True
            diff.clear(r)
        return look.ops

    def _refine(self, frame: np.ndarray) -> list[Op]:
        # Each piece sent clears its pixels' lossy mark; pieces left for later stay marked (the next
        # refinement takes them).
        ops, _ = self._encode_tiles(frame, tile_any(self.lossy), lossless=True, budget=self.flow.budget())
        self._lossy_any = bool(self.lossy.any())
        return ops

    def _emit(self, ops: list[Op], now: float) -> Update | None:
        if not ops:
            return None
        seq = self.flow.next_seq()
        self.flow.on_sent(seq, sum(_op_size(op) for op in ops), now)
        return Update(seq, tuple(ops))
