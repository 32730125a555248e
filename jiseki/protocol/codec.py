"""Serialize and parse display messages (sans-I/O: bytes in, values out).

`REGISTRY` holds one entry per message type: its type byte, class, direction, largest size, and
the encoder and decoder of its body. Everything else (the direction sets, dispatch, the JSON form
of `jsonform`) is derived from it, so a new message is a class in `messages` and one entry here
(and its mirror in `web/static/core/protocol.js`).

Every parse failure raises `ProtocolError` and nothing else, whatever the input.
"""

from __future__ import annotations

import builtins
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from .errors import ProtocolError
from .limits import (
    MAX_AGENT_MESSAGE,
    MAX_CLIPBOARD_BYTES,
    MAX_COORD,
    MAX_CURSOR,
    MAX_LAYOUT_KEYS,
    MAX_LAYOUT_NAME_BYTES,
    MAX_MONITORS,
    MAX_OPS,
    MAX_STATUS_BYTES,
    MAX_TEXT_BYTES,
    MAX_VIDEO_FRAME,
    MAX_VIDEO_SIZE,
    MAX_VIDEO_STREAMS,
    MAX_VIEWER_MESSAGE,
)
from .messages import (
    CLIPBOARD_TEXT,
    LOCK_ALL,
    VIDEO_KEYFRAME,
    Ack,
    Clipboard,
    Codec,
    CopyOp,
    CursorPos,
    CursorShape,
    Desktop,
    FillOp,
    Hello,
    ImageOp,
    Key,
    KeyboardLayout,
    LayoutKey,
    Locks,
    Message,
    Monitor,
    MsgType,
    Op,
    OpType,
    Pointer,
    Refresh,
    Status,
    StatusCode,
    Text,
    Update,
    VideoCodec,
    VideoEndOp,
    VideoOp,
    Wheel,
)

__all__ = [
    "AGENT_TO_VIEWER",
    "MAX_AGENT_MESSAGE",
    "MAX_CLIPBOARD_BYTES",
    "MAX_COORD",
    "MAX_CURSOR",
    "MAX_LAYOUT_KEYS",
    "MAX_LAYOUT_NAME_BYTES",
    "MAX_MONITORS",
    "MAX_OPS",
    "MAX_STATUS_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_VIDEO_FRAME",
    "MAX_VIDEO_SIZE",
    "MAX_VIDEO_STREAMS",
    "MAX_VIEWER_MESSAGE",
    "OPS",
    "REGISTRY",
    "VIEWER_TO_AGENT",
    "Direction",
    "Entry",
    "OpEntry",
    "decode",
    "decode_from_agent",
    "decode_from_viewer",
    "encode",
]

Parts = Iterable[bytes | memoryview]
M = TypeVar("M")

_U8 = struct.Struct(">B")


class Direction(Enum):
    """Who may send a message type; the gateway refuses a type from the wrong side."""

    TO_VIEWER = "agent → viewer"  # STATUS also comes from the gateway itself
    TO_AGENT = "viewer → agent"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Entry(Generic[M]):
    """One message type: everything the codec knows about it."""

    type: MsgType
    cls: builtins.type[M]  # (`type` is the field above)
    direction: Direction
    max_size: int | None  # the largest valid message, type byte included; None: the channel's limit
    encode_body: Callable[[M], Parts]
    decode_body: Callable[[_Reader], M]


@dataclass(frozen=True, slots=True)
class OpEntry(Generic[M]):
    """One operation kind inside an UPDATE."""

    type: OpType
    cls: builtins.type[M]
    encode_body: Callable[[M], Parts]
    decode_body: Callable[[_Reader], M]


# ---- reading ----------------------------------------------------------------------------------


class _Reader:
    """Cursor over a memoryview; every read is bounds-checked."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, st: struct.Struct) -> tuple[Any, ...]:
        end = self.pos + st.size
        if end > len(self.buf):
            raise ProtocolError("message truncated")
        values = st.unpack_from(self.buf, self.pos)
        self.pos = end
        return values

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.buf):
            raise ProtocolError("message truncated")
        view = self.buf[self.pos : end]
        self.pos = end
        return view

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise ProtocolError("trailing bytes after message")


def _utf8(view: memoryview) -> str:
    try:
        return bytes(view).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("text is not valid UTF-8") from None


# ---- checks shared by encoders and decoders ---------------------------------------------------


def _check_rect(x: int, y: int, w: int, h: int) -> None:
    if w < 1 or h < 1 or x < 0 or y < 0 or x + w > MAX_COORD or y + h > MAX_COORD:
        raise ProtocolError(f"rectangle out of range: {x},{y} {w}x{h}")


def _check_layout_name(name: str) -> None:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise ProtocolError("control character in a layout name")


def _check_layout_keys(keys: tuple[LayoutKey, ...]) -> None:
    if len(keys) > MAX_LAYOUT_KEYS:
        raise ProtocolError("too many keys in a keyboard layout")
    last = -1
    for key in keys:
        if key.usage_id <= last:
            raise ProtocolError("layout keys must be in ascending usage order, each once")
        last = key.usage_id
        if not 0x20 <= key.codepoint <= 0x10FFFF or 0xD800 <= key.codepoint <= 0xDFFF:
            raise ProtocolError(f"layout character out of range: {key.codepoint:#x}")


def _check_locks(known: int, state: int) -> None:
    if known & ~LOCK_ALL or state & ~known:
        raise ProtocolError("lock bits out of range")


def _check_monitor_count(count: int) -> None:
    if not 1 <= count <= MAX_MONITORS:
        raise ProtocolError("monitor count out of range")


def _check_op_count(count: int) -> None:
    if count > MAX_OPS:
        raise ProtocolError("too many operations in one update")


def _check_cursor_size(w: int, h: int) -> None:
    if not (1 <= w <= MAX_CURSOR and 1 <= h <= MAX_CURSOR):
        raise ProtocolError("bad cursor shape")


def _check_length(length: int, low: int, high: int, what: str) -> None:
    if not low <= length <= high:
        raise ProtocolError(f"{what} empty or too long" if low else f"{what} too long")


# ---- UPDATE operations ------------------------------------------------------------------------

_COPY = struct.Struct(">HHHHHH")
_FILL = struct.Struct(">HHHHBBB")
_IMAGE = struct.Struct(">HHHHBI")


def _enc_copy(op: CopyOp) -> Parts:
    _check_rect(op.sx, op.sy, op.w, op.h)
    _check_rect(op.dx, op.dy, op.w, op.h)
    yield _COPY.pack(op.sx, op.sy, op.w, op.h, op.dx, op.dy)


def _dec_copy(r: _Reader) -> CopyOp:
    sx, sy, w, h, dx, dy = r.unpack(_COPY)
    _check_rect(sx, sy, w, h)
    _check_rect(dx, dy, w, h)
    return CopyOp(sx, sy, w, h, dx, dy)


def _enc_fill(op: FillOp) -> Parts:
    _check_rect(op.x, op.y, op.w, op.h)
    yield _FILL.pack(op.x, op.y, op.w, op.h, op.r, op.g, op.b)


def _dec_fill(r: _Reader) -> FillOp:
    x, y, w, h, red, green, blue = r.unpack(_FILL)
    _check_rect(x, y, w, h)
    return FillOp(x, y, w, h, red, green, blue)


def _enc_image(op: ImageOp) -> Parts:
    _check_rect(op.x, op.y, op.w, op.h)
    yield _IMAGE.pack(op.x, op.y, op.w, op.h, int(op.codec), len(op.payload))
    yield op.payload


def _dec_image(r: _Reader) -> ImageOp:
    x, y, w, h, codec, length = r.unpack(_IMAGE)
    _check_rect(x, y, w, h)
    try:
        codec_value = Codec(codec)
    except ValueError:
        raise ProtocolError(f"unknown codec {codec}") from None
    if length == 0:
        raise ProtocolError("empty image payload")
    return ImageOp(x, y, w, h, codec_value, r.take(length))


_VIDEO = struct.Struct(">BHHHHBBI")
_VIDEO_FLAGS = VIDEO_KEYFRAME  # every other bit must be 0


def _check_video(stream: int, w: int, h: int, length: int) -> None:
    if not 0 <= stream < MAX_VIDEO_STREAMS:
        raise ProtocolError(f"video stream {stream} out of range")
    if w > MAX_VIDEO_SIZE or h > MAX_VIDEO_SIZE:
        raise ProtocolError("video rectangle too large")
    _check_length(length, 1, MAX_VIDEO_FRAME, "video frame")


def _enc_video(op: VideoOp) -> Parts:
    _check_rect(op.x, op.y, op.w, op.h)
    _check_video(op.stream, op.w, op.h, len(op.payload))
    flags = VIDEO_KEYFRAME if op.keyframe else 0
    yield _VIDEO.pack(op.stream, op.x, op.y, op.w, op.h, int(op.codec), flags, len(op.payload))
    yield op.payload


def _dec_video(r: _Reader) -> VideoOp:
    stream, x, y, w, h, codec, flags, length = r.unpack(_VIDEO)
    _check_rect(x, y, w, h)
    _check_video(stream, w, h, length)
    try:
        codec_value = VideoCodec(codec)
    except ValueError:
        raise ProtocolError(f"unknown video codec {codec}") from None
    if flags & ~_VIDEO_FLAGS:
        raise ProtocolError("unknown video flags")
    return VideoOp(stream, x, y, w, h, codec_value, bool(flags & VIDEO_KEYFRAME), r.take(length))


def _enc_video_end(op: VideoEndOp) -> Parts:
    if not 0 <= op.stream < MAX_VIDEO_STREAMS:
        raise ProtocolError(f"video stream {op.stream} out of range")
    yield _U8.pack(op.stream)


def _dec_video_end(r: _Reader) -> VideoEndOp:
    (stream,) = r.unpack(_U8)
    if stream >= MAX_VIDEO_STREAMS:
        raise ProtocolError(f"video stream {stream} out of range")
    return VideoEndOp(stream)


OPS: tuple[OpEntry[Any], ...] = (
    OpEntry(OpType.COPY, CopyOp, _enc_copy, _dec_copy),
    OpEntry(OpType.FILL, FillOp, _enc_fill, _dec_fill),
    OpEntry(OpType.IMAGE, ImageOp, _enc_image, _dec_image),
    OpEntry(OpType.VIDEO, VideoOp, _enc_video, _dec_video),
    OpEntry(OpType.VIDEO_END, VideoEndOp, _enc_video_end, _dec_video_end),
)
_OP_BY_TYPE: dict[int, OpEntry[Any]] = {e.type: e for e in OPS}
_OP_BY_CLASS: dict[type, OpEntry[Any]] = {e.cls: e for e in OPS}


def _enc_op(op: Op) -> Parts:
    entry = _OP_BY_CLASS.get(type(op))
    if entry is None:  # pragma: no cover - typing guards this
        raise ProtocolError(f"unknown operation {op!r}")
    yield _U8.pack(entry.type)
    yield from entry.encode_body(op)


def _dec_op(r: _Reader) -> Op:
    (kind,) = r.unpack(_U8)
    entry = _OP_BY_TYPE.get(kind)
    if entry is None:
        raise ProtocolError(f"unknown operation type {kind}")
    op: Op = entry.decode_body(r)  # the table holds every kind (OpEntry[Any]); each decodes its own class
    return op


# ---- message bodies ---------------------------------------------------------------------------

_HELLO = struct.Struct(">HI")
_DESKTOP = struct.Struct(">HHB")
_MONITOR = struct.Struct(">hhHH")
_UPDATE = struct.Struct(">IH")
_CURSOR_SHAPE = struct.Struct(">HHHH")
_POS = struct.Struct(">HH")
_STATUS = struct.Struct(">BH")
_ACK = struct.Struct(">IH")
_KEY = struct.Struct(">IB")
_POINTER = struct.Struct(">HHB")
_WHEEL = struct.Struct(">hh")
_TEXT = struct.Struct(">H")
_LAYOUT_KEY = struct.Struct(">BI")
_LOCKS = struct.Struct(">BB")
_CLIPBOARD = struct.Struct(">BI")


def _enc_hello(m: Hello) -> Parts:
    yield _HELLO.pack(m.version, m.flags)


def _dec_hello(r: _Reader) -> Hello:
    return Hello(*r.unpack(_HELLO))


def _enc_desktop(m: Desktop) -> Parts:
    _check_monitor_count(len(m.monitors))
    _check_rect(0, 0, m.width, m.height)
    yield _DESKTOP.pack(m.width, m.height, len(m.monitors))
    for mon in m.monitors:
        yield _MONITOR.pack(mon.x, mon.y, mon.w, mon.h)


def _dec_desktop(r: _Reader) -> Desktop:
    width, height, count = r.unpack(_DESKTOP)
    _check_rect(0, 0, width, height)
    _check_monitor_count(count)
    monitors = []
    for _ in range(count):
        x, y, w, h = r.unpack(_MONITOR)
        if w < 1 or h < 1:
            raise ProtocolError("empty monitor")
        monitors.append(Monitor(x, y, w, h))
    return Desktop(width, height, tuple(monitors))


def _enc_update(m: Update) -> Parts:
    _check_op_count(len(m.ops))
    yield _UPDATE.pack(m.seq, len(m.ops))
    for op in m.ops:
        yield from _enc_op(op)


def _dec_update(r: _Reader) -> Update:
    seq, count = r.unpack(_UPDATE)
    _check_op_count(count)
    return Update(seq, tuple(_dec_op(r) for _ in range(count)))


def _enc_cursor_shape(m: CursorShape) -> Parts:
    _check_cursor_size(m.w, m.h)
    if len(m.rgba) != m.w * m.h * 4:
        raise ProtocolError("bad cursor shape")
    yield _CURSOR_SHAPE.pack(m.w, m.h, m.hot_x, m.hot_y)
    yield m.rgba


def _dec_cursor_shape(r: _Reader) -> CursorShape:
    w, h, hot_x, hot_y = r.unpack(_CURSOR_SHAPE)
    _check_cursor_size(w, h)
    if hot_x >= w or hot_y >= h:
        raise ProtocolError("bad cursor shape")
    return CursorShape(w, h, hot_x, hot_y, r.take(w * h * 4))


def _enc_cursor_pos(m: CursorPos) -> Parts:
    yield _POS.pack(m.x, m.y)


def _dec_cursor_pos(r: _Reader) -> CursorPos:
    return CursorPos(*r.unpack(_POS))


def _enc_status(m: Status) -> Parts:
    detail = m.detail.encode()
    _check_length(len(detail), 0, MAX_STATUS_BYTES, "status detail")
    yield _STATUS.pack(int(m.code), len(detail)) + detail


def _dec_status(r: _Reader) -> Status:
    code, length = r.unpack(_STATUS)
    _check_length(length, 0, MAX_STATUS_BYTES, "status detail")
    try:
        status = StatusCode(code)
    except ValueError:
        raise ProtocolError(f"unknown status code {code}") from None
    return Status(status, _utf8(r.take(length)))


def _enc_ack(m: Ack) -> Parts:
    yield _ACK.pack(m.seq, min(m.decode_ms, 0xFFFF))


def _dec_ack(r: _Reader) -> Ack:
    return Ack(*r.unpack(_ACK))


def _enc_key(m: Key) -> Parts:
    yield _KEY.pack(m.usage, 1 if m.down else 0)


def _dec_key(r: _Reader) -> Key:
    usage, down = r.unpack(_KEY)
    if down > 1:
        raise ProtocolError("key state must be 0 or 1")
    return Key(usage, bool(down))


def _enc_pointer(m: Pointer) -> Parts:
    yield _POINTER.pack(m.x, m.y, m.buttons)


def _dec_pointer(r: _Reader) -> Pointer:
    return Pointer(*r.unpack(_POINTER))


def _enc_wheel(m: Wheel) -> Parts:
    yield _WHEEL.pack(m.dx, m.dy)


def _dec_wheel(r: _Reader) -> Wheel:
    return Wheel(*r.unpack(_WHEEL))


def _enc_refresh(_m: Refresh) -> Parts:
    return ()


def _dec_refresh(_r: _Reader) -> Refresh:
    return Refresh()


def _enc_text(m: Text) -> Parts:
    text = m.text.encode()
    _check_length(len(text), 1, MAX_TEXT_BYTES, "text")
    yield _TEXT.pack(len(text)) + text


def _dec_text(r: _Reader) -> Text:
    (length,) = r.unpack(_TEXT)
    _check_length(length, 1, MAX_TEXT_BYTES, "text")
    return Text(_utf8(r.take(length)))


def _enc_keyboard_layout(m: KeyboardLayout) -> Parts:
    name = m.name.encode()
    _check_length(len(name), 0, MAX_LAYOUT_NAME_BYTES, "layout name")
    _check_layout_name(m.name)
    _check_layout_keys(m.keys)
    yield _U8.pack(len(name)) + name + _U8.pack(len(m.keys))
    for key in m.keys:
        yield _LAYOUT_KEY.pack(key.usage_id, key.codepoint)


def _dec_keyboard_layout(r: _Reader) -> KeyboardLayout:
    (name_length,) = r.unpack(_U8)
    _check_length(name_length, 0, MAX_LAYOUT_NAME_BYTES, "layout name")
    name = _utf8(r.take(name_length))
    _check_layout_name(name)
    (count,) = r.unpack(_U8)
    if count > MAX_LAYOUT_KEYS:
        raise ProtocolError("too many keys in a keyboard layout")
    keys = tuple(LayoutKey(*r.unpack(_LAYOUT_KEY)) for _ in range(count))
    _check_layout_keys(keys)
    return KeyboardLayout(name, keys)


def _enc_locks(m: Locks) -> Parts:
    _check_locks(m.known, m.state)
    yield _LOCKS.pack(m.known, m.state)


def _dec_locks(r: _Reader) -> Locks:
    known, state = r.unpack(_LOCKS)
    _check_locks(known, state)
    return Locks(known, state)


def _enc_clipboard(m: Clipboard) -> Parts:
    data = m.text.encode()
    _check_length(len(data), 0, MAX_CLIPBOARD_BYTES, "clipboard text")
    yield _CLIPBOARD.pack(CLIPBOARD_TEXT, len(data)) + data


def _dec_clipboard(r: _Reader) -> Clipboard:
    fmt, length = r.unpack(_CLIPBOARD)
    if fmt != CLIPBOARD_TEXT:
        raise ProtocolError(f"unknown clipboard format {fmt}")
    _check_length(length, 0, MAX_CLIPBOARD_BYTES, "clipboard text")
    return Clipboard(_utf8(r.take(length)))


# ---- the registry -----------------------------------------------------------------------------

_TO_VIEWER, _TO_AGENT, _BOTH = Direction.TO_VIEWER, Direction.TO_AGENT, Direction.BOTH

REGISTRY: tuple[Entry[Any], ...] = (
    Entry(MsgType.HELLO, Hello, _BOTH, 1 + _HELLO.size, _enc_hello, _dec_hello),
    Entry(
        MsgType.DESKTOP,
        Desktop,
        _TO_VIEWER,
        1 + _DESKTOP.size + MAX_MONITORS * _MONITOR.size,
        _enc_desktop,
        _dec_desktop,
    ),
    Entry(MsgType.UPDATE, Update, _TO_VIEWER, None, _enc_update, _dec_update),
    Entry(
        MsgType.CURSOR_SHAPE,
        CursorShape,
        _TO_VIEWER,
        1 + _CURSOR_SHAPE.size + MAX_CURSOR * MAX_CURSOR * 4,
        _enc_cursor_shape,
        _dec_cursor_shape,
    ),
    Entry(MsgType.CURSOR_POS, CursorPos, _TO_VIEWER, 1 + _POS.size, _enc_cursor_pos, _dec_cursor_pos),
    Entry(MsgType.STATUS, Status, _TO_VIEWER, 1 + _STATUS.size + MAX_STATUS_BYTES, _enc_status, _dec_status),
    Entry(
        MsgType.KEYBOARD_LAYOUT,
        KeyboardLayout,
        _TO_VIEWER,
        1 + 1 + MAX_LAYOUT_NAME_BYTES + 1 + MAX_LAYOUT_KEYS * _LAYOUT_KEY.size,
        _enc_keyboard_layout,
        _dec_keyboard_layout,
    ),
    Entry(MsgType.ACK, Ack, _TO_AGENT, 1 + _ACK.size, _enc_ack, _dec_ack),
    Entry(MsgType.KEY, Key, _TO_AGENT, 1 + _KEY.size, _enc_key, _dec_key),
    Entry(MsgType.POINTER, Pointer, _TO_AGENT, 1 + _POINTER.size, _enc_pointer, _dec_pointer),
    Entry(MsgType.WHEEL, Wheel, _TO_AGENT, 1 + _WHEEL.size, _enc_wheel, _dec_wheel),
    Entry(MsgType.REFRESH, Refresh, _TO_AGENT, 1, _enc_refresh, _dec_refresh),
    Entry(MsgType.TEXT, Text, _TO_AGENT, 1 + _TEXT.size + MAX_TEXT_BYTES, _enc_text, _dec_text),
    Entry(MsgType.LOCKS, Locks, _TO_AGENT, 1 + _LOCKS.size, _enc_locks, _dec_locks),
    Entry(
        MsgType.CLIPBOARD,
        Clipboard,
        _BOTH,
        1 + _CLIPBOARD.size + MAX_CLIPBOARD_BYTES,
        _enc_clipboard,
        _dec_clipboard,
    ),
)
BY_TYPE: dict[int, Entry[Any]] = {e.type: e for e in REGISTRY}
BY_CLASS: dict[type, Entry[Any]] = {e.cls: e for e in REGISTRY}
AGENT_TO_VIEWER = frozenset(e.type for e in REGISTRY if e.direction is not Direction.TO_AGENT)
VIEWER_TO_AGENT = frozenset(e.type for e in REGISTRY if e.direction is not Direction.TO_VIEWER)


# ---- entry points -----------------------------------------------------------------------------


def encode(msg: Message) -> bytes:
    """Serialize one message. Raises ProtocolError when a value cannot be represented."""
    entry = BY_CLASS.get(type(msg))
    if entry is None:
        raise ProtocolError(f"cannot encode {type(msg).__name__}")
    try:
        return b"".join((_U8.pack(entry.type), *entry.encode_body(msg)))
    except struct.error as exc:
        raise ProtocolError(f"value out of range in {type(msg).__name__}: {exc}") from None


def decode(data: bytes | bytearray | memoryview, allowed: frozenset[MsgType] | None = None) -> Message:
    """Parse one message. `allowed` restricts the accepted types (the sender's direction)."""
    buf = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
    limit = MAX_AGENT_MESSAGE if allowed is None or allowed is AGENT_TO_VIEWER else MAX_VIEWER_MESSAGE
    if len(buf) > limit:
        raise ProtocolError(f"message of {len(buf)} bytes exceeds the limit of {limit}")
    if len(buf) == 0:
        raise ProtocolError("empty message")
    r = _Reader(buf)
    (kind,) = r.unpack(_U8)
    entry = BY_TYPE.get(kind)
    if entry is None:
        raise ProtocolError(f"unknown message type 0x{kind:02x}")
    if allowed is not None and entry.type not in allowed:
        raise ProtocolError(f"message type {entry.type.name} not allowed in this direction")
    if entry.max_size is not None and len(buf) > entry.max_size:
        raise ProtocolError(f"{entry.type.name} of {len(buf)} bytes exceeds its limit of {entry.max_size}")
    msg: Message = entry.decode_body(r)  # the table holds every type; each entry decodes its own class
    r.done()
    return msg


def decode_from_agent(data: bytes | bytearray | memoryview) -> Message:
    return decode(data, AGENT_TO_VIEWER)


def decode_from_viewer(data: bytes | bytearray | memoryview) -> Message:
    return decode(data, VIEWER_TO_AGENT)
