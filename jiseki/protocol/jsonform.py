"""A JSON form of messages, shared with the JavaScript viewer by the test vectors.

Field names are those of the message classes; `type`/`op` carry the names, byte fields are hex.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .messages import (
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

_CLASSES: dict[MsgType, type] = {
    MsgType.HELLO: Hello,
    MsgType.DESKTOP: Desktop,
    MsgType.UPDATE: Update,
    MsgType.CURSOR_SHAPE: CursorShape,
    MsgType.CURSOR_POS: CursorPos,
    MsgType.STATUS: Status,
    MsgType.ACK: Ack,
    MsgType.KEY: Key,
    MsgType.POINTER: Pointer,
    MsgType.WHEEL: Wheel,
    MsgType.REFRESH: Refresh,
    MsgType.TEXT: Text,
    MsgType.CLIPBOARD: Clipboard,
}
_TYPE_OF = {cls: t for t, cls in _CLASSES.items()}
_OPS: dict[OpType, type] = {OpType.COPY: CopyOp, OpType.FILL: FillOp, OpType.IMAGE: ImageOp}
_OP_OF = {cls: t for t, cls in _OPS.items()}


def _value_to_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (Codec, StatusCode)):
        return value.name
    if isinstance(value, tuple):
        return [_obj_to_json(v) for v in value]
    return value


def _obj_to_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if type(obj) in _OP_OF:
        out["op"] = _OP_OF[type(obj)].name
    for f in fields(obj):
        out[f.name] = _value_to_json(getattr(obj, f.name))
    return out


def to_json(msg: Message) -> dict[str, Any]:
    return {"type": _TYPE_OF[type(msg)].name, **_obj_to_json(msg)}


def _op_from_json(d: dict[str, Any]) -> Op:
    cls = _OPS[OpType[d["op"]]]
    kwargs = {k: v for k, v in d.items() if k != "op"}
    if cls is ImageOp:
        kwargs["codec"] = Codec[kwargs["codec"]]
        kwargs["payload"] = bytes.fromhex(kwargs["payload"])
    return cls(**kwargs)  # type: ignore[no-any-return]


def from_json(d: dict[str, Any]) -> Message:
    mtype = MsgType[d["type"]]
    kwargs = {k: v for k, v in d.items() if k != "type"}
    if mtype == MsgType.DESKTOP:
        kwargs["monitors"] = tuple(Monitor(**m) for m in kwargs["monitors"])
    elif mtype == MsgType.UPDATE:
        kwargs["ops"] = tuple(_op_from_json(op) for op in kwargs["ops"])
    elif mtype == MsgType.CURSOR_SHAPE:
        kwargs["rgba"] = bytes.fromhex(kwargs["rgba"])
    elif mtype == MsgType.STATUS:
        kwargs["code"] = StatusCode[kwargs["code"]]
    return _CLASSES[mtype](**kwargs)  # type: ignore[no-any-return]
