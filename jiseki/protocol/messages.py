"""Wire messages of the jiseki display protocol, as plain immutable values.

This module only describes the messages; `codec` turns them into bytes and back (one registry
entry per `MsgType`). The byte layout is specified in docs/protocol.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

PROTOCOL_VERSION = 1


class MsgType(IntEnum):
    HELLO = 0x01
    # agent -> viewer
    DESKTOP = 0x10
    UPDATE = 0x11
    CURSOR_SHAPE = 0x12
    CURSOR_POS = 0x13
    STATUS = 0x14
    KEYBOARD_LAYOUT = 0x18  # numbered away from 0x15.. to leave those to display messages
    # viewer -> agent
    ACK = 0x20
    KEY = 0x21
    POINTER = 0x22
    WHEEL = 0x23
    REFRESH = 0x24
    TEXT = 0x25
    LOCKS = 0x28
    # both directions (only where the session's policy allows; the gateway enforces it)
    CLIPBOARD = 0x30


class OpType(IntEnum):
    COPY = 0x01
    FILL = 0x02
    IMAGE = 0x03
    VIDEO = 0x04  # one access unit of a video stream, drawn at its rectangle
    VIDEO_END = 0x05  # the stream is over: the viewer closes its decoder


class Codec(IntEnum):
    JPEG = 1
    WEBP = 2
    PNG = 3


class VideoCodec(IntEnum):
    H264 = 1  # Annex B access units, constrained baseline (no B-frames)
    VP8 = 2  # raw VP8 frames


# HELLO flags of the viewer: the video codecs it can decode (the agent's HELLO sends 0).
# Receivers ignore bits they do not know.
HELLO_VIDEO_H264 = 0x01
HELLO_VIDEO_VP8 = 0x02
VIDEO_KEYFRAME = 0x01  # VIDEO flags: this access unit starts (or restarts) the stream


class StatusCode(IntEnum):
    """Why the viewer is (not) seeing the desktop; `detail` is a reason key the viewer translates."""

    WAITING_FOR_HOST = 1
    HOST_CONNECTED = 2
    HOST_OFFLINE = 3
    SESSION_ENDED = 4
    WARNING = 5  # detail "<reason>:<seconds left>", e.g. "idle:60"; the session ends unless ...


# Pointer button bits (POINTER.buttons).
BUTTON_LEFT = 0x01
BUTTON_MIDDLE = 0x02
BUTTON_RIGHT = 0x04
BUTTON_BACK = 0x08
BUTTON_FORWARD = 0x10

WHEEL_NOTCH = 120  # WHEEL deltas are in 1/120 of a notch, like Windows' WHEEL_DELTA.

# Lock bits (LOCKS.known and LOCKS.state).
LOCK_CAPS = 0x01
LOCK_NUM = 0x02
LOCK_SCROLL = 0x04
LOCK_KANA = 0x08
LOCK_ALL = LOCK_CAPS | LOCK_NUM | LOCK_SCROLL | LOCK_KANA


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Monitor:
    x: int
    y: int
    w: int
    h: int


# ---- operations inside an UPDATE ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyOp:
    """Copy the rectangle (sx, sy, w, h) of the current picture to (dx, dy)."""

    sx: int
    sy: int
    w: int
    h: int
    dx: int
    dy: int


@dataclass(frozen=True, slots=True)
class FillOp:
    x: int
    y: int
    w: int
    h: int
    r: int
    g: int
    b: int


@dataclass(frozen=True, slots=True)
class ImageOp:
    x: int
    y: int
    w: int
    h: int
    codec: Codec
    payload: bytes | memoryview = field(repr=False)


@dataclass(frozen=True, slots=True)
class VideoOp:
    """One encoded access unit of video stream `stream`, drawn at (x, y, w, h) once decoded."""

    stream: int
    x: int
    y: int
    w: int
    h: int
    codec: VideoCodec
    keyframe: bool
    payload: bytes | memoryview = field(repr=False)


@dataclass(frozen=True, slots=True)
class VideoEndOp:
    stream: int


Op = CopyOp | FillOp | ImageOp | VideoOp | VideoEndOp


# ---- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    version: int
    flags: int = 0


@dataclass(frozen=True, slots=True)
class Desktop:
    width: int
    height: int
    monitors: tuple[Monitor, ...]


@dataclass(frozen=True, slots=True)
class Update:
    seq: int
    ops: tuple[Op, ...]


@dataclass(frozen=True, slots=True)
class CursorShape:
    w: int
    h: int
    hot_x: int
    hot_y: int
    rgba: bytes | memoryview = field(repr=False)


@dataclass(frozen=True, slots=True)
class CursorPos:
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class Status:
    code: StatusCode
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    decode_ms: int


@dataclass(frozen=True, slots=True)
class Key:
    usage: int  # USB HID usage, page in the high 16 bits (0x0007xxxx for the keyboard page)
    down: bool


@dataclass(frozen=True, slots=True)
class Pointer:
    x: int
    y: int
    buttons: int


@dataclass(frozen=True, slots=True)
class Wheel:
    dx: int
    dy: int


@dataclass(frozen=True, slots=True)
class Refresh:
    pass


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class LayoutKey:
    usage_id: int  # on the keyboard page (0x07), e.g. 0x2F for the key right of P
    codepoint: int  # the character the key types without modifiers on the host


@dataclass(frozen=True, slots=True)
class KeyboardLayout:
    """The host's active keyboard layout: a name for people and what the writing keys type."""

    name: str
    keys: tuple[LayoutKey, ...]


@dataclass(frozen=True, slots=True)
class Locks:
    """Lock states of the terminal: bits of `state` count only where `known` has them."""

    known: int
    state: int


CLIPBOARD_TEXT = 1  # the only clipboard format: UTF-8 text


@dataclass(frozen=True, slots=True)
class Clipboard:
    text: str


Message = (
    Hello
    | Desktop
    | Update
    | CursorShape
    | CursorPos
    | Status
    | KeyboardLayout
    | Ack
    | Key
    | Pointer
    | Wheel
    | Refresh
    | Text
    | Locks
    | Clipboard
)
