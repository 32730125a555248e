"""The video path (issue 16): detection, the encoder wrapper, and a display stream that sends a
moving rectangle as video while text stays lossless, and ends exactly equal to the host's screen."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from jiseki.agent.encode.stream import DisplayStream
from jiseki.agent.encode.video import VideoEncoder, available, open_encoder
from jiseki.agent.encode.videodetect import VideoDetector, overlap
from jiseki.agent.encode.videostream import VideoPath, even_rect, for_viewer, pick_codec
from jiseki.protocol import (
    HELLO_VIDEO_H264,
    HELLO_VIDEO_VP8,
    Ack,
    Codec,
    ImageOp,
    Rect,
    Update,
    VideoCodec,
    VideoEndOp,
    VideoOp,
    decode_from_agent,
    encode,
)

from .test_encode import apply_update, blank, text_like

av = pytest.importorskip("av")

W, H = 960, 540
VIDEO = Rect(300, 120, 320, 240)


def moving_picture(t: int, h: int = VIDEO.h, w: int = VIDEO.w) -> np.ndarray:
    """A photographic picture that changes everywhere from one frame to the next (a panning scene)."""
    yy, xx = np.mgrid[0:h, 0:w]
    phase = t * 6
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[..., 0] = (128 + 100 * np.sin((xx + phase) / 23.0)).astype(np.uint8)
    out[..., 1] = (128 + 100 * np.sin((yy + phase) / 17.0)).astype(np.uint8)
    out[..., 2] = (128 + 90 * np.sin((xx + yy + 2 * phase) / 31.0) + (xx * 7 + yy * 13) % 5).astype(np.uint8)
    out[..., 3] = 255
    return out


def desktop(t: int | None) -> np.ndarray:
    frame = blank(W, H, (230, 230, 230))
    frame[20:84, 20:660] = text_like(64, 640)
    frame[VIDEO.y : VIDEO.y + VIDEO.h, VIDEO.x : VIDEO.x + VIDEO.w] = moving_picture(t if t is not None else 0)
    return frame


class Viewer:
    """What the browser does, with PyAV's decoders in place of WebCodecs (RGB canvas)."""

    def __init__(self) -> None:
        self.canvas = np.zeros((H, W, 3), dtype=np.uint8)
        self.decoders: dict[int, object] = {}
        self.video_frames = 0

    def apply(self, update: Update) -> None:
        update = decode_from_agent(encode(update))  # through the wire format
        assert isinstance(update, Update)
        for op in update.ops:
            if isinstance(op, VideoOp):
                if op.keyframe:
                    name = "h264" if op.codec == VideoCodec.H264 else "vp8"
                    self.decoders[op.stream] = av.CodecContext.create(name, "r")
                ctx = self.decoders[op.stream]
                frames = ctx.decode(av.Packet(bytes(op.payload)))  # type: ignore[attr-defined]
                assert len(frames) == 1  # no reordering: each access unit is one picture at once
                self.canvas[op.y : op.y + op.h, op.x : op.x + op.w] = frames[0].to_ndarray(format="rgb24")
                self.video_frames += 1
            elif isinstance(op, VideoEndOp):
                self.decoders.pop(op.stream, None)
            else:
                apply_update(self.canvas, Update(update.seq, (op,)))


# ---- pure parts ------------------------------------------------------------------------------


def test_detector_finds_a_rectangle_that_changes_at_one_place() -> None:
    det = VideoDetector()
    found = [det.observe(i / 25, VIDEO) for i in range(14)]
    assert found[:10] == [None] * 10  # not before 0.4 s of changes
    assert found[-1] == VIDEO


def test_detector_ignores_small_rare_or_wandering_changes() -> None:
    det = VideoDetector()
    assert all(det.observe(i / 25, Rect(0, 0, 100, 20)) is None for i in range(50))  # a text line
    det = VideoDetector()
    assert all(det.observe(i / 4, VIDEO) is None for i in range(20))  # 4 changes a second
    det = VideoDetector()
    assert all(det.observe(i / 25, Rect(i * 40, 0, 300, 200)) is None for i in range(30))  # moving
    assert overlap(Rect(0, 0, 10, 10), Rect(20, 20, 5, 5)) == 0.0


def test_even_rect_and_codec_choice() -> None:
    assert even_rect(Rect(1, 1, 161, 121), 640, 480) == Rect(1, 1, 162, 122)
    assert even_rect(Rect(479, 0, 161, 120), 640, 480) == Rect(478, 0, 162, 120)  # at the right edge
    assert even_rect(Rect(0, 0, 5000, 100), 6000, 480) is None
    both = frozenset(VideoCodec)
    assert pick_codec(HELLO_VIDEO_H264 | HELLO_VIDEO_VP8, both) is VideoCodec.H264
    assert pick_codec(HELLO_VIDEO_VP8, both) is VideoCodec.VP8
    assert pick_codec(HELLO_VIDEO_H264, frozenset({VideoCodec.VP8})) is None
    assert pick_codec(0, both) is None
    assert pick_codec(0xFFFFFFFC, both) is None  # unknown bits are ignored


# ---- the encoder wrapper -------------------------------------------------------------------


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.VP8])
def test_encoder_output_decodes_close_to_the_source(codec: VideoCodec) -> None:
    if codec not in available():
        pytest.skip(f"no {codec.name} encoder in this PyAV")
    enc: VideoEncoder = open_encoder(codec, VIDEO.w, VIDEO.h, 1_500_000)
    dec = av.CodecContext.create("h264" if codec is VideoCodec.H264 else "vp8", "r")
    total = 0
    for t in range(30):
        src = moving_picture(t)
        data, key = enc.encode(src, t / 25, keyframe=t in (0, 20))
        assert key == (t in (0, 20)) or (key and codec is VideoCodec.VP8 and t == 0)
        if codec is VideoCodec.H264:
            assert data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))  # Annex B
            if key:
                assert b"\x00\x00\x01\x67" in data or b"\x00\x00\x00\x01\x67" in data  # SPS in every keyframe
        total += len(data)
        frames = dec.decode(av.Packet(data))
        assert len(frames) == 1
        got = frames[0].to_ndarray(format="rgb24").astype(int)
        error = np.abs(got - src[..., 2::-1].astype(int)).mean()
        assert error < 6, (t, error)
    enc.close()
    assert total * 8 / (30 / 25) < 2_500_000  # about the bit rate asked for


def test_refuses_odd_sizes() -> None:
    if VideoCodec.H264 not in available():
        pytest.skip("no H.264 encoder")
    with pytest.raises(ValueError, match="even"):
        open_encoder(VideoCodec.H264, 161, 120, 1_000_000)


def test_for_viewer_follows_the_viewers_flags() -> None:
    if VideoCodec.H264 not in available():
        pytest.skip("no H.264 encoder")
    path = for_viewer(HELLO_VIDEO_H264, W, H, None)
    assert path is not None and path.codec is VideoCodec.H264
    assert for_viewer(HELLO_VIDEO_H264 | HELLO_VIDEO_VP8, W, H, path) is path
    assert for_viewer(0, W, H, path) is None


# ---- the display stream with video ----------------------------------------------------------


def run(stream: DisplayStream, viewer: Viewer, frames: list[np.ndarray], t0: float) -> list[Update]:
    """One look every 40 ms (25 frames/s), each update drawn and acknowledged at once."""
    sent = []
    for i, frame in enumerate(frames):
        now = t0 + i * 0.04
        update = stream.next_update(frame, now)
        if update is not None:
            viewer.apply(update)
            stream.on_ack(Ack(update.seq, 5), now + 0.01)
            sent.append(update)
    return sent


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.VP8])
def test_moving_rectangle_goes_as_video_text_stays_lossless_exact_after_rest(codec: VideoCodec) -> None:
    if codec not in available():
        pytest.skip(f"no {codec.name} encoder")
    stream = DisplayStream(W, H)
    stream.video = VideoPath(codec, open_encoder, W, H)
    viewer = Viewer()
    updates = run(stream, viewer, [desktop(t) for t in range(50)], 0.0)  # 2 s of video
    ops = [op for u in updates for op in u.ops]
    video = [op for op in ops if isinstance(op, VideoOp)]
    assert len(video) >= 30  # found after about half a second, then every picture
    assert video[0].keyframe and all(not op.keyframe for op in video[1:])
    assert {(op.x, op.y, op.w, op.h) for op in video} == {(VIDEO.x, VIDEO.y, VIDEO.w, VIDEO.h)}
    first_video = next(i for i, u in enumerate(updates) if any(isinstance(op, VideoOp) for op in u.ops))
    assert 8 <= first_video <= 16  # JPEG images before that
    assert all(not isinstance(op, ImageOp) for u in updates[first_video + 1 :] for op in u.ops)
    text_ops = [op for op in updates[0].ops if isinstance(op, ImageOp) and op.y < 84]
    assert text_ops and all(op.codec == Codec.WEBP for op in text_ops)  # text lossless from the start
    assert np.array_equal(viewer.canvas[20:84], desktop(49)[20:84, :, 2::-1])
    bits = sum(len(op.payload) for op in video[1:]) * 8 / ((len(video) - 1) * 0.04)
    assert bits < 2_000_000, bits
    # The video stops: the stream ends and the area is sent again losslessly.
    still = desktop(49)
    rest = run(stream, viewer, [still] * 20, 2.0)
    rest_ops = [op for u in rest for op in u.ops]
    assert any(isinstance(op, VideoEndOp) for op in rest_ops)
    assert stream.video.stream is None
    assert np.array_equal(viewer.canvas, still[..., 2::-1])  # exact pixels after rest
    assert not stream.lossy.any()


def test_refresh_ends_the_stream_and_a_new_one_starts_with_a_keyframe() -> None:
    if VideoCodec.H264 not in available():
        pytest.skip("no H.264 encoder")
    stream = DisplayStream(W, H)
    stream.video = VideoPath(VideoCodec.H264, open_encoder, W, H)
    viewer = Viewer()
    run(stream, viewer, [desktop(t) for t in range(25)], 0.0)
    assert stream.video.stream is not None
    first_id = stream.video.stream.id
    stream.request_refresh()
    refresh = run(stream, viewer, [desktop(25)], 1.0)[0]
    assert refresh.ops[0] == VideoEndOp(first_id)
    assert not any(isinstance(op, VideoOp) for op in refresh.ops)
    later = run(stream, viewer, [desktop(t) for t in range(26, 50)], 1.04)
    video = [op for u in later for op in u.ops if isinstance(op, VideoOp)]
    assert video and video[0].keyframe and video[0].stream != first_id


class FailingEncoder:
    codec = VideoCodec.H264
    width = height = 0

    def encode(self, region: np.ndarray, now: float, keyframe: bool = False) -> tuple[bytes, bool]:
        raise RuntimeError("encoder gone")

    def close(self) -> None:
        pass


def test_a_failing_encoder_falls_back_to_images() -> None:
    stream = DisplayStream(W, H)
    stream.video = VideoPath(VideoCodec.H264, lambda *_: FailingEncoder(), W, H)
    viewer = Viewer()
    updates = run(stream, viewer, [desktop(t) for t in range(40)], 0.0)
    assert stream.video.broken
    assert not any(isinstance(op, VideoOp) for u in updates for op in u.ops)
    assert np.array_equal(viewer.canvas[20:84], desktop(39)[20:84, :, 2::-1])


def test_text_that_changes_often_is_not_video() -> None:
    """A terminal scrolling text at 25 lines a second changes a large area in every look, but it is
    not photographic: it stays lossless."""
    stream = DisplayStream(W, H)
    stream.video = VideoPath(VideoCodec.H264, lambda *_: FailingEncoder(), W, H)
    frames = []
    for t in range(40):
        f = blank(W, H, (255, 255, 255))
        f[100:400, 100:600] = text_like(300, 500, seed=t)
        frames.append(f)
    updates = run(stream, Viewer(), frames, 0.0)
    assert not stream.video.broken  # never tried
    assert all(not isinstance(op, VideoOp) for u in updates for op in u.ops)


def test_detector_takes_the_typical_box_not_one_that_caught_more() -> None:
    det = VideoDetector()
    frame = Rect(VIDEO.x - 1, VIDEO.y - 20, VIDEO.w + 2, VIDEO.h + 25)  # the window appearing, title bar and all
    det.observe(0.0, frame)
    found = [det.observe(i / 25, VIDEO) for i in range(1, 14)]
    assert found[-1] == VIDEO


class RecordingEncoder:
    """A fake encoder: remembers the bit rate it was opened with; every picture is one byte."""

    opened: ClassVar[list[int]] = []

    def __init__(self, codec: VideoCodec, w: int, h: int, bitrate: int) -> None:
        self.codec, self.width, self.height = codec, w, h
        RecordingEncoder.opened.append(bitrate)

    def encode(self, region: np.ndarray, now: float, keyframe: bool = False) -> tuple[bytes, bool]:
        return b"\x01", keyframe

    def close(self) -> None:
        pass


def test_bit_rate_follows_the_quality_and_a_big_change_restarts_the_stream() -> None:
    RecordingEncoder.opened = []
    path = VideoPath(VideoCodec.H264, RecordingEncoder, W, H)
    assert path.bitrate(80, 80) == 1_500_000 and path.bitrate(35, 80) == 287_109
    assert path.bitrate(0, 80) == path.s.min_bitrate
    stream = DisplayStream(W, H)
    stream.video = path
    sent: list[VideoOp | VideoEndOp] = []
    for t in range(40):
        if t == 25:
            stream.flow.quality = 35  # the link's delay grew
        update = stream.next_update(desktop(t), t * 0.04)
        assert update is not None
        sent += [op for op in update.ops if isinstance(op, VideoOp | VideoEndOp)]
        stream.on_ack(Ack(update.seq, 1), t * 0.04 + 0.01)
    assert RecordingEncoder.opened == [1_500_000, 287_109]
    restart = next(i for i, op in enumerate(sent) if isinstance(op, VideoEndOp))
    after = sent[restart + 1]
    assert isinstance(after, VideoOp) and after.keyframe and after.stream == sent[0].stream + 1


def test_no_move_search_inside_an_open_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pictures of a stream are no scrolls: searching them for moves cost 15 ms a look."""
    from jiseki.agent.encode import stream as stream_module

    searched: list[Rect] = []
    real = stream_module.find_moves

    def counting(reference, frame, box, *args):  # type: ignore[no-untyped-def]
        searched.append(box)
        return real(reference, frame, box, *args)

    if VideoCodec.H264 not in available():
        pytest.skip("no H.264 encoder")
    monkeypatch.setattr(stream_module, "find_moves", counting)
    stream = DisplayStream(W, H)
    stream.video = VideoPath(VideoCodec.H264, open_encoder, W, H)
    run(stream, Viewer(), [desktop(t) for t in range(15)], 0.0)
    assert stream.video.stream is not None and searched
    searched.clear()
    for t in range(15, 25):
        update = stream.next_update(desktop(t), t * 0.04)
        assert update is not None
        stream.on_ack(Ack(update.seq, 1), t * 0.04 + 0.01)
    assert searched == []
