"""The protocol codec: shared vectors, byte layout, limits and fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.protocol import (
    Ack,
    Codec,
    CopyOp,
    FillOp,
    ImageOp,
    Key,
    Pointer,
    ProtocolError,
    Update,
    Wheel,
    decode,
    decode_from_agent,
    decode_from_viewer,
    encode,
)
from jiseki.protocol.codec import MAX_AGENT_MESSAGE, MAX_COORD, MAX_VIEWER_MESSAGE
from jiseki.protocol.jsonform import from_json, to_json

VECTORS = Path(__file__).parent.parent / "vectors"
VALID = json.loads((VECTORS / "valid.json").read_text("utf-8"))
INVALID = json.loads((VECTORS / "invalid.json").read_text("utf-8"))
DECODERS = {"any": decode, "viewer": decode_from_viewer, "agent": decode_from_agent}


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector(vector: dict) -> None:
    msg = from_json(vector["message"])
    assert encode(msg).hex() == vector["hex"]
    parsed = decode(bytes.fromhex(vector["hex"]))
    assert to_json(parsed) == vector["message"]


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vector(vector: dict) -> None:
    with pytest.raises(ProtocolError):
        DECODERS[vector["direction"]](bytes.fromhex(vector["hex"]))


def test_byte_layout_matches_the_spec() -> None:
    # docs/protocol.md: KEY = 0x21, u32 usage, u8 down (big-endian).
    assert encode(Key(0x00070004, True)) == bytes.fromhex("21 00070004 01")
    assert encode(Pointer(700, 760, 1)) == bytes.fromhex("22 02bc 02f8 01")
    assert encode(Wheel(-120, 240)) == bytes.fromhex("23 ff88 00f0")
    assert encode(Ack(2, 5)) == bytes.fromhex("20 00000002 0005")
    update = Update(1, (FillOp(0, 0, 1, 1, 1, 2, 3), ImageOp(0, 0, 1, 1, Codec.WEBP, b"xy")))
    assert encode(update) == bytes.fromhex(
        "11 00000001 0002 02 0000 0000 0001 0001 010203 03 0000 0000 0001 0001 02 00000002 7879"
    )


def test_image_payload_is_not_copied_on_decode() -> None:
    payload = bytes(range(256)) * 4
    data = encode(Update(9, (ImageOp(0, 0, 8, 8, Codec.JPEG, payload),)))
    msg = decode(data)
    assert isinstance(msg, Update)
    op = msg.ops[0]
    assert isinstance(op, ImageOp)
    assert isinstance(op.payload, memoryview) and bytes(op.payload) == payload


def test_oversize_messages_are_refused() -> None:
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        decode_from_viewer(encode(Ack(1, 1)) + b"\x00" * MAX_VIEWER_MESSAGE)
    big = encode(Update(1, (ImageOp(0, 0, 1, 1, Codec.JPEG, b"\x00" * (MAX_AGENT_MESSAGE)),)))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        decode_from_agent(big)


def test_encoder_refuses_unrepresentable_values() -> None:
    with pytest.raises(ProtocolError):
        encode(Update(1, (FillOp(0, 0, 0, 1, 0, 0, 0),)))  # zero width
    with pytest.raises(ProtocolError):
        encode(Pointer(70000, 0, 0))
    with pytest.raises(ProtocolError):
        encode(Update(1, (CopyOp(0, 0, 10, 10, MAX_COORD - 5, 0),)))


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_a_message_or_protocol_error(data: bytes) -> None:
    for parse in (decode, decode_from_agent, decode_from_viewer):
        try:
            msg = parse(data)
        except ProtocolError:
            continue
        assert encode(msg) == data  # whatever parses re-encodes to the same bytes


_type_byte = st.sampled_from([0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x30])


@settings(max_examples=3000, deadline=None)
@given(_type_byte, st.binary(max_size=300))
def test_valid_type_with_random_body(kind: int, body: bytes) -> None:
    data = bytes([kind]) + body
    try:
        msg = decode(data)
    except ProtocolError:
        return
    assert encode(msg) == data


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4000),
            st.integers(0, 4000),
            st.integers(1, 512),
            st.integers(1, 512),
            st.binary(min_size=1, max_size=64),
        ),
        max_size=20,
    ),
    st.integers(0, 2**32 - 1),
)
def test_update_round_trip(rects: list, seq: int) -> None:
    ops = tuple(ImageOp(x, y, w, h, Codec.WEBP, payload) for x, y, w, h, payload in rects)
    msg = Update(seq, ops)
    assert decode_from_agent(encode(msg)) == msg
