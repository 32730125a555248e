"""Serialize and parse protocol messages (sans-I/O: bytes in, values out).

Every parse failure raises `ProtocolError` and nothing else, whatever the input. Limits are
explicit so that a hostile peer cannot make either side allocate or loop without bound.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from .errors import ProtocolError
from .messages import (
    AGENT_TO_VIEWER,
    CLIPBOARD_TEXT,
    VIEWER_TO_AGENT,
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
    Wheel,
)

# ---- limits -------------------------------------------------------------------------------
MAX_COORD = 16384  # any x + w or y + h must stay within this
MAX_MONITORS = 16
MAX_OPS = 8192
MAX_AGENT_MESSAGE = 32 * 1024 * 1024  # one UPDATE may carry a full 4K frame of JPEG
MAX_CLIPBOARD_BYTES = 1024 * 1024  # hard cap; the session policy usually allows far less
MAX_VIEWER_MESSAGE = MAX_CLIPBOARD_BYTES + 16  # only CLIPBOARD can be this large; every other type is tiny
MAX_TEXT_BYTES = 1024
MAX_STATUS_BYTES = 256
MAX_CURSOR = 256  # cursor width/height

_U8 = struct.Struct(">B")
_HELLO = struct.Struct(">HI")
_DESKTOP = struct.Struct(">HHB")
_MONITOR = struct.Struct(">hhHH")
_UPDATE = struct.Struct(">IH")
_COPY = struct.Struct(">HHHHHH")
_FILL = struct.Struct(">HHHHBBB")
_IMAGE = struct.Struct(">HHHHBI")
_CURSOR_SHAPE = struct.Struct(">HHHH")
_POS = struct.Struct(">HH")
_STATUS = struct.Struct(">BH")
_ACK = struct.Struct(">IH")
_KEY = struct.Struct(">IB")
_POINTER = struct.Struct(">HHB")
_WHEEL = struct.Struct(">hh")
_TEXT = struct.Struct(">H")
_CLIPBOARD = struct.Struct(">BI")


# ---- encoding -----------------------------------------------------------------------------


def _check_rect(x: int, y: int, w: int, h: int) -> None:
    if w < 1 or h < 1 or x < 0 or y < 0 or x + w > MAX_COORD or y + h > MAX_COORD:
        raise ProtocolError(f"rectangle out of range: {x},{y} {w}x{h}")


def _encode_op(op: Op) -> Iterable[bytes | memoryview]:
    if isinstance(op, CopyOp):
        _check_rect(op.sx, op.sy, op.w, op.h)
        _check_rect(op.dx, op.dy, op.w, op.h)
        yield _U8.pack(OpType.COPY) + _COPY.pack(op.sx, op.sy, op.w, op.h, op.dx, op.dy)
    elif isinstance(op, FillOp):
        _check_rect(op.x, op.y, op.w, op.h)
        yield _U8.pack(OpType.FILL) + _FILL.pack(op.x, op.y, op.w, op.h, op.r, op.g, op.b)
    elif isinstance(op, ImageOp):
        _check_rect(op.x, op.y, op.w, op.h)
        yield _U8.pack(OpType.IMAGE) + _IMAGE.pack(op.x, op.y, op.w, op.h, int(op.codec), len(op.payload))
        yield op.payload
    else:  # pragma: no cover - typing guards this
        raise ProtocolError(f"unknown operation {op!r}")


def encode(msg: Message) -> bytes:
    """Serialize one message. Raises ProtocolError when a value cannot be represented."""
    try:
        return b"".join(_encode_parts(msg))
    except struct.error as exc:
        raise ProtocolError(f"value out of range in {type(msg).__name__}: {exc}") from None


def _encode_parts(msg: Message) -> Iterable[bytes | memoryview]:
    if isinstance(msg, Hello):
        yield _U8.pack(MsgType.HELLO) + _HELLO.pack(msg.version, msg.flags)
    elif isinstance(msg, Desktop):
        if not 1 <= len(msg.monitors) <= MAX_MONITORS:
            raise ProtocolError("monitor count out of range")
        _check_rect(0, 0, msg.width, msg.height)
        yield _U8.pack(MsgType.DESKTOP) + _DESKTOP.pack(msg.width, msg.height, len(msg.monitors))
        for m in msg.monitors:
            yield _MONITOR.pack(m.x, m.y, m.w, m.h)
    elif isinstance(msg, Update):
        if len(msg.ops) > MAX_OPS:
            raise ProtocolError("too many operations in one update")
        yield _U8.pack(MsgType.UPDATE) + _UPDATE.pack(msg.seq, len(msg.ops))
        for op in msg.ops:
            yield from _encode_op(op)
    elif isinstance(msg, CursorShape):
        if not (1 <= msg.w <= MAX_CURSOR and 1 <= msg.h <= MAX_CURSOR) or len(msg.rgba) != msg.w * msg.h * 4:
            raise ProtocolError("bad cursor shape")
        yield _U8.pack(MsgType.CURSOR_SHAPE) + _CURSOR_SHAPE.pack(msg.w, msg.h, msg.hot_x, msg.hot_y)
        yield msg.rgba
    elif isinstance(msg, CursorPos):
        yield _U8.pack(MsgType.CURSOR_POS) + _POS.pack(msg.x, msg.y)
    elif isinstance(msg, Status):
        detail = msg.detail.encode()
        if len(detail) > MAX_STATUS_BYTES:
            raise ProtocolError("status detail too long")
        yield _U8.pack(MsgType.STATUS) + _STATUS.pack(int(msg.code), len(detail)) + detail
    elif isinstance(msg, Ack):
        yield _U8.pack(MsgType.ACK) + _ACK.pack(msg.seq, min(msg.decode_ms, 0xFFFF))
    elif isinstance(msg, Key):
        yield _U8.pack(MsgType.KEY) + _KEY.pack(msg.usage, 1 if msg.down else 0)
    elif isinstance(msg, Pointer):
        yield _U8.pack(MsgType.POINTER) + _POINTER.pack(msg.x, msg.y, msg.buttons)
    elif isinstance(msg, Wheel):
        yield _U8.pack(MsgType.WHEEL) + _WHEEL.pack(msg.dx, msg.dy)
    elif isinstance(msg, Refresh):
        yield _U8.pack(MsgType.REFRESH)
    elif isinstance(msg, Text):
        text = msg.text.encode()
        if not text or len(text) > MAX_TEXT_BYTES:
            raise ProtocolError("text empty or too long")
        yield _U8.pack(MsgType.TEXT) + _TEXT.pack(len(text)) + text
    elif isinstance(msg, Clipboard):
        data = msg.text.encode()
        if len(data) > MAX_CLIPBOARD_BYTES:
            raise ProtocolError("clipboard text too long")
        yield _U8.pack(MsgType.CLIPBOARD) + _CLIPBOARD.pack(CLIPBOARD_TEXT, len(data)) + data
    else:
        raise ProtocolError(f"cannot encode {type(msg).__name__}")


# ---- decoding -----------------------------------------------------------------------------


class _Reader:
    """Cursor over a memoryview; every read is bounds-checked."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, st: struct.Struct) -> tuple[int, ...]:
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


def _decode_op(r: _Reader) -> Op:
    (kind,) = r.unpack(_U8)
    if kind == OpType.COPY:
        sx, sy, w, h, dx, dy = r.unpack(_COPY)
        _check_rect(sx, sy, w, h)
        _check_rect(dx, dy, w, h)
        return CopyOp(sx, sy, w, h, dx, dy)
    if kind == OpType.FILL:
        x, y, w, h, red, green, blue = r.unpack(_FILL)
        _check_rect(x, y, w, h)
        return FillOp(x, y, w, h, red, green, blue)
    if kind == OpType.IMAGE:
        x, y, w, h, codec, length = r.unpack(_IMAGE)
        _check_rect(x, y, w, h)
        try:
            codec_value = Codec(codec)
        except ValueError:
            raise ProtocolError(f"unknown codec {codec}") from None
        if length == 0:
            raise ProtocolError("empty image payload")
        return ImageOp(x, y, w, h, codec_value, r.take(length))
    raise ProtocolError(f"unknown operation type {kind}")


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
    try:
        mtype = MsgType(kind)
    except ValueError:
        raise ProtocolError(f"unknown message type 0x{kind:02x}") from None
    if allowed is not None and mtype not in allowed:
        raise ProtocolError(f"message type {mtype.name} not allowed in this direction")
    msg = _decode_body(mtype, r)
    r.done()
    return msg


def _decode_body(mtype: MsgType, r: _Reader) -> Message:
    if mtype == MsgType.HELLO:
        version, flags = r.unpack(_HELLO)
        return Hello(version, flags)
    if mtype == MsgType.DESKTOP:
        width, height, count = r.unpack(_DESKTOP)
        _check_rect(0, 0, width, height)
        if not 1 <= count <= MAX_MONITORS:
            raise ProtocolError("monitor count out of range")
        monitors = []
        for _ in range(count):
            x, y, w, h = r.unpack(_MONITOR)
            if w < 1 or h < 1:
                raise ProtocolError("empty monitor")
            monitors.append(Monitor(x, y, w, h))
        return Desktop(width, height, tuple(monitors))
    if mtype == MsgType.UPDATE:
        seq, count = r.unpack(_UPDATE)
        if count > MAX_OPS:
            raise ProtocolError("too many operations in one update")
        return Update(seq, tuple(_decode_op(r) for _ in range(count)))
    if mtype == MsgType.CURSOR_SHAPE:
        w, h, hot_x, hot_y = r.unpack(_CURSOR_SHAPE)
        if not (1 <= w <= MAX_CURSOR and 1 <= h <= MAX_CURSOR) or hot_x >= w or hot_y >= h:
            raise ProtocolError("bad cursor shape")
        return CursorShape(w, h, hot_x, hot_y, r.take(w * h * 4))
    if mtype == MsgType.CURSOR_POS:
        x, y = r.unpack(_POS)
        return CursorPos(x, y)
    if mtype == MsgType.STATUS:
        code, length = r.unpack(_STATUS)
        if length > MAX_STATUS_BYTES:
            raise ProtocolError("status detail too long")
        try:
            status = StatusCode(code)
        except ValueError:
            raise ProtocolError(f"unknown status code {code}") from None
        return Status(status, _utf8(r.take(length)))
    if mtype == MsgType.ACK:
        seq, decode_ms = r.unpack(_ACK)
        return Ack(seq, decode_ms)
    if mtype == MsgType.KEY:
        usage, down = r.unpack(_KEY)
        if down > 1:
            raise ProtocolError("key state must be 0 or 1")
        return Key(usage, bool(down))
    if mtype == MsgType.POINTER:
        x, y, buttons = r.unpack(_POINTER)
        return Pointer(x, y, buttons)
    if mtype == MsgType.WHEEL:
        dx, dy = r.unpack(_WHEEL)
        return Wheel(dx, dy)
    if mtype == MsgType.REFRESH:
        return Refresh()
    if mtype == MsgType.TEXT:
        (length,) = r.unpack(_TEXT)
        if not 1 <= length <= MAX_TEXT_BYTES:
            raise ProtocolError("text empty or too long")
        return Text(_utf8(r.take(length)))
    if mtype == MsgType.CLIPBOARD:
        fmt, length = r.unpack(_CLIPBOARD)
        if fmt != CLIPBOARD_TEXT:
            raise ProtocolError(f"unknown clipboard format {fmt}")
        if length > MAX_CLIPBOARD_BYTES:
            raise ProtocolError("clipboard text too long")
        return Clipboard(_utf8(r.take(length)))
    raise ProtocolError(f"unhandled message type {mtype.name}")  # pragma: no cover


def decode_from_agent(data: bytes | bytearray | memoryview) -> Message:
    return decode(data, AGENT_TO_VIEWER)


def decode_from_viewer(data: bytes | bytearray | memoryview) -> Message:
    return decode(data, VIEWER_TO_AGENT)
