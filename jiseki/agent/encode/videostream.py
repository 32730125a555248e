"""The video path of a display stream: a detected moving rectangle sent as one video stream.

Pure apart from the encoder it is given (`EncoderFactory`; tests pass a fake). `DisplayStream`
asks it, for each look, for the VIDEO operations of the changed pixels it takes over (their area
then counts as sent, and lossy: the stream's refinement resends it losslessly once the screen
rests), and for the VIDEO_END operations when the stream must stop (a refresh, the rest before a
refinement). One stream at a time; each new stream gets the next id, so nothing of an old stream
can be taken for the new one.

A stream ends when its rectangle has not changed for `idle_end` seconds, when the screen rests
(the refinement), on a refresh (the viewer asks after a decoder error: the next stream starts with a
keyframe), or when the encoder fails (video is then off for the session: JPEG as before). A window
moved or resized leaves its old rectangle still: that stream ends and the new place is found again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jiseki.protocol import (
    HELLO_VIDEO_H264,
    HELLO_VIDEO_VP8,
    MAX_VIDEO_FRAME,
    MAX_VIDEO_SIZE,
    MAX_VIDEO_STREAMS,
    Op,
    Rect,
    VideoCodec,
    VideoEndOp,
    VideoOp,
)

from .codecs import PHOTO_COLOURS, colour_count
from .tiles import TILE, Diff, components
from .video import VideoEncoder, available, open_encoder
from .videodetect import DetectSettings, VideoDetector

log = logging.getLogger(__name__)

EncoderFactory = Callable[[VideoCodec, int, int, int], VideoEncoder]

# Preferred first. H.264 costs less CPU per picture than VP8 at the same quality (measured).
_FLAGS = ((VideoCodec.H264, HELLO_VIDEO_H264), (VideoCodec.VP8, HELLO_VIDEO_VP8))


@dataclass(frozen=True, slots=True)
class VideoSettings:
    max_bitrate: int = 1_500_000  # bits/s for one moving rectangle, at the best quality
    min_bitrate: int = 250_000
    idle_end: float = 0.5  # seconds without a change in the rectangle before the stream ends
    detect: DetectSettings = field(default_factory=DetectSettings)


def pick_codec(viewer_flags: int, encodable: frozenset[VideoCodec]) -> VideoCodec | None:
    """The first codec the viewer decodes (its HELLO flags) and this agent encodes, or None."""
    for codec, flag in _FLAGS:
        if viewer_flags & flag and codec in encodable:
            return codec
    return None


def even_rect(rect: Rect, width: int, height: int) -> Rect | None:
    """`rect` with an even width and height (4:2:0 video), inside the screen; None if too large."""

    def grow(pos: int, size: int, limit: int) -> tuple[int, int]:
        if size % 2 == 0:
            return pos, size
        if pos + size < limit:
            return pos, size + 1
        if pos > 0:
            return pos - 1, size + 1
        return pos, size - 1

    x, w = grow(rect.x, rect.w, width)
    y, h = grow(rect.y, rect.h, height)
    if w < 2 or h < 2 or w > MAX_VIDEO_SIZE or h > MAX_VIDEO_SIZE:
        return None
    return Rect(x, y, w, h)


def largest_change(diff: Diff, width: int, height: int) -> Rect | None:
    """The exact box of the largest connected area of changed tiles in this look."""
    best: Rect | None = None
    for comp in components(diff.tiles()):
        x, y = comp.x * TILE, comp.y * TILE
        area = Rect(x, y, min(width, (comp.x + comp.w) * TILE) - x, min(height, (comp.y + comp.h) * TILE) - y)
        box = diff.box(area)
        if box is not None and (best is None or box.w * box.h > best.w * best.h):
            best = box
    return best


@dataclass
class _Stream:
    id: int
    rect: Rect
    encoder: VideoEncoder
    last_change: float
    bitrate: int


@dataclass(frozen=True, slots=True)
class VideoLook:
    ops: list[Op]
    sent: Rect | None  # the area now sent as video (the caller updates its reference and lossy map)


class VideoPath:
    def __init__(
        self,
        codec: VideoCodec,
        factory: EncoderFactory,
        width: int,
        height: int,
        settings: VideoSettings | None = None,
    ) -> None:
        self.codec = codec
        self.factory = factory
        self.width = width
        self.height = height
        self.s = settings or VideoSettings()
        self.detector = VideoDetector(self.s.detect)
        self.stream: _Stream | None = None
        self.broken = False  # the encoder failed once: no more video in this session
        self.frames = 0  # access units sent (statistics)
        self.streams = 0
        self._next_id = 0

    # ---- ends ------------------------------------------------------------------------------

    def end(self) -> list[Op]:
        """VIDEO_END for the open stream (if any); detection starts again from nothing."""
        self.detector.reset()
        if self.stream is None:
            return []
        stream, self.stream = self.stream, None
        stream.encoder.close()
        return [VideoEndOp(stream.id)]

    def _fail(self, exc: Exception) -> list[Op]:
        log.warning("video encoding failed, sending images instead: %r", exc)
        self.broken = True
        return self.end()

    # ---- each look -------------------------------------------------------------------------

    def covers(self, box: Rect) -> bool:
        """Does the open stream's rectangle hold all of `box`?"""
        if self.stream is None:
            return False
        r = self.stream.rect
        return r.x <= box.x and r.y <= box.y and box.x + box.w <= r.x + r.w and box.y + box.h <= r.y + r.h

    def bitrate(self, quality: int, quality_max: int) -> int:
        """The stream's bit rate follows the flow controller's JPEG quality (lower under delay)."""
        share = max(0.0, min(1.0, quality / max(1, quality_max)))
        return max(self.s.min_bitrate, int(self.s.max_bitrate * share * share))

    def look(self, frame: np.ndarray, diff: Diff, now: float, bitrate: int) -> VideoLook:
        """The video operations for this look's changes (none: the caller encodes them as images)."""
        if self.broken:
            return VideoLook([], None)
        ops: list[Op] = []
        stream = self.stream
        changed = stream is not None and diff.box(stream.rect) is not None
        if stream is not None and changed and not 0.5 <= bitrate / stream.bitrate <= 2:
            # The link's delay moved the quality a long way: a new stream at the new rate (the
            # encoder's rate is fixed once open), found again at once at the same place.
            return self._start(frame, stream.rect, now, bitrate, self.end())
        if stream is not None:
            if changed:
                return self._picture(frame, stream, now, keyframe=False)
            if now - stream.last_change < self.s.idle_end:
                return VideoLook([], None)
            ops = self.end()  # still for a while (paused, or the window moved away): over
        found = self.detector.observe(now, largest_change(diff, self.width, self.height))
        if found is None:
            return VideoLook(ops, None)
        even = even_rect(found, self.width, self.height)
        if even is None or colour_count(frame[even.y : even.y + even.h, even.x : even.x + even.w]) <= PHOTO_COLOURS:
            return VideoLook(ops, None)  # not photographic: lossless images suit it better
        return self._start(frame, even, now, bitrate, ops)

    def _start(self, frame: np.ndarray, rect: Rect, now: float, bitrate: int, ops: list[Op]) -> VideoLook:
        try:
            encoder = self.factory(self.codec, rect.w, rect.h, bitrate)
        except Exception as exc:
            return VideoLook(ops + self._fail(exc), None)
        stream = _Stream(self._next_id, rect, encoder, now, bitrate)
        self._next_id = (self._next_id + 1) % MAX_VIDEO_STREAMS
        self.stream = stream
        self.streams += 1
        look = self._picture(frame, stream, now, keyframe=True)
        return VideoLook(ops + look.ops, look.sent)

    def _picture(self, frame: np.ndarray, stream: _Stream, now: float, *, keyframe: bool) -> VideoLook:
        r = stream.rect
        try:
            data, is_key = stream.encoder.encode(frame[r.y : r.y + r.h, r.x : r.x + r.w], now, keyframe)
        except Exception as exc:
            return VideoLook(self._fail(exc), None)
        if not data or len(data) > MAX_VIDEO_FRAME or (keyframe and not is_key):
            return VideoLook(self._fail(ValueError(f"unusable access unit of {len(data)} bytes")), None)
        stream.last_change = now
        self.frames += 1
        return VideoLook([VideoOp(stream.id, r.x, r.y, r.w, r.h, self.codec, is_key, data)], r)


def for_viewer(viewer_flags: int, width: int, height: int, current: VideoPath | None) -> VideoPath | None:
    """The video path for a viewer's HELLO flags: the current one if its codec still suits, a new
    one for another codec, None when the viewer decodes nothing this agent encodes (or no PyAV)."""
    codec = pick_codec(viewer_flags, available())
    log.info("video: the viewer decodes %#x, this agent encodes %s: %s", viewer_flags,
             sorted(c.name for c in available()), codec.name if codec else "images only")  # fmt: skip
    if codec is None:
        return None
    if current is not None and current.codec is codec and not current.broken:
        return current
    return VideoPath(codec, open_encoder, width, height)
