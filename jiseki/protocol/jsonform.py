"""A JSON form of display messages, shared with the JavaScript viewer by the test vectors.

Field names are those of the message classes; `type`/`op` carry the names, byte fields are hex,
enums their names. Derived from the codec's registry and the classes' field types, so a new
message needs nothing here.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import fields
from enum import Enum
from typing import Any

from .codec import BY_CLASS, BY_TYPE, OPS
from .messages import Message, MsgType

_OP_BY_NAME = {e.type.name: e.cls for e in OPS}
_OP_NAME = {e.cls: e.type.name for e in OPS}


def _value_to_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, tuple):
        return [_obj_to_json(v) for v in value]
    return value


def _obj_to_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if type(obj) in _OP_NAME:
        out["op"] = _OP_NAME[type(obj)]
    for f in fields(obj):
        out[f.name] = _value_to_json(getattr(obj, f.name))
    return out


def to_json(msg: Message) -> dict[str, Any]:
    return {"type": BY_CLASS[type(msg)].type.name, **_obj_to_json(msg)}


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _value_from_json(kind: Any, value: Any) -> Any:
    if typing.get_origin(kind) is tuple:
        (item, _ellipsis) = typing.get_args(kind)
        return tuple(_obj_from_json(item, v) for v in value)
    if isinstance(kind, types.UnionType) and bytes in typing.get_args(kind):
        return bytes.fromhex(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind[value]
    return value


def _obj_from_json(cls: Any, d: dict[str, Any]) -> Any:
    if isinstance(cls, types.UnionType):  # an operation: its kind names the class
        cls = _OP_BY_NAME[d["op"]]
    hints = _field_types(cls)
    return cls(**{k: _value_from_json(hints[k], v) for k, v in d.items() if k != "op"})


def from_json(d: dict[str, Any]) -> Message:
    cls = BY_TYPE[MsgType[d["type"]]].cls
    msg: Message = _obj_from_json(cls, {k: v for k, v in d.items() if k != "type"})  # an instance of cls
    return msg
