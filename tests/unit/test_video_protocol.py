"""The VIDEO and VIDEO_END operations of UPDATE, and the viewer's codec flags in HELLO (issue 16)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.protocol import (
    MAX_VIDEO_FRAME,
    MAX_VIDEO_SIZE,
    MAX_VIDEO_STREAMS,
    MsgType,
    OpType,
    ProtocolError,
    Update,
    VideoCodec,
    VideoEndOp,
    VideoOp,
    decode,
    decode_from_agent,
    decode_from_viewer,
    encode,
)

_HEAD = bytes([MsgType.UPDATE]) + struct.pack(">IH", 1, 1)


@settings(max_examples=3000, deadline=None)
@given(st.binary(min_size=0, max_size=40))
def test_video_op_with_random_body(body: bytes) -> None:
    data = _HEAD + bytes([OpType.VIDEO]) + body
    try:
        msg = decode_from_agent(data)
    except ProtocolError:
        return
    assert isinstance(msg, Update) and isinstance(msg.ops[0], VideoOp)
    op = msg.ops[0]
    assert 0 <= op.stream < MAX_VIDEO_STREAMS and op.w <= MAX_VIDEO_SIZE and op.h <= MAX_VIDEO_SIZE
    assert 1 <= len(op.payload) <= MAX_VIDEO_FRAME
    assert encode(msg) == data


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=4))
def test_video_end_with_random_body(stream: int, rest: bytes) -> None:
    data = _HEAD + bytes([OpType.VIDEO_END, stream]) + rest
    if stream < MAX_VIDEO_STREAMS and not rest:
        assert decode(data) == Update(1, (VideoEndOp(stream),))
    else:
        with pytest.raises(ProtocolError):
            decode(data)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, MAX_VIDEO_STREAMS - 1),
    st.integers(0, 8000),
    st.integers(0, 8000),
    st.integers(1, MAX_VIDEO_SIZE),
    st.integers(1, MAX_VIDEO_SIZE),
    st.sampled_from(list(VideoCodec)),
    st.booleans(),
    st.binary(min_size=1, max_size=64),
)
def test_video_round_trip(stream: int, x: int, y: int, w: int, h: int, codec: VideoCodec, key: bool, p: bytes) -> None:
    msg = Update(5, (VideoOp(stream, x, y, w, h, codec, key, p), VideoEndOp(stream)))
    assert decode_from_agent(encode(msg)) == msg


def test_encoder_refuses_what_the_decoder_refuses() -> None:
    for op in (
        VideoOp(MAX_VIDEO_STREAMS, 0, 0, 16, 16, VideoCodec.H264, True, b"x"),
        VideoOp(0, 0, 0, MAX_VIDEO_SIZE + 1, 16, VideoCodec.H264, True, b"x"),
        VideoOp(0, 0, 0, 16, 16, VideoCodec.H264, True, b""),
        VideoEndOp(-1),
        VideoEndOp(MAX_VIDEO_STREAMS),
    ):
        with pytest.raises(ProtocolError):
            encode(Update(1, (op,)))
    with pytest.raises(ProtocolError):
        encode(Update(1, (VideoOp(0, 0, 0, 16, 16, VideoCodec.VP8, False, bytes(MAX_VIDEO_FRAME + 1)),)))


def test_video_travels_to_the_viewer_only() -> None:
    data = encode(Update(1, (VideoOp(0, 0, 0, 16, 16, VideoCodec.VP8, True, b"x"),)))
    with pytest.raises(ProtocolError):
        decode_from_viewer(data)
