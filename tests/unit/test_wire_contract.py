"""One wire contract: each message type is one registry entry per side, and the Python registry,
the JavaScript registry, the limits, docs/protocol.md and the vectors all agree."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import typing
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from jiseki.protocol import codec, limits, messages
from jiseki.protocol.close_codes import CloseCode
from jiseki.protocol.codec import (
    AGENT_TO_VIEWER,
    OPS,
    REGISTRY,
    VIEWER_TO_AGENT,
    Direction,
    decode,
    encode,
)
from jiseki.protocol.control import REGISTRY as CONTROL_REGISTRY
from jiseki.protocol.messages import (
    LOCK_ALL,
    Ack,
    Clipboard,
    CursorPos,
    CursorShape,
    Desktop,
    Hello,
    Key,
    KeyboardLayout,
    LayoutKey,
    Locks,
    Message,
    Monitor,
    MsgType,
    OpType,
    Pointer,
    Refresh,
    Status,
    StatusCode,
    Text,
    Wheel,
)

ROOT = Path(__file__).parent.parent.parent
VALID = json.loads((ROOT / "tests" / "vectors" / "valid.json").read_text("utf-8"))
DOC = (ROOT / "docs" / "protocol.md").read_text("utf-8")
PROTOCOL_JS = ROOT / "jiseki" / "web" / "static" / "core" / "protocol.js"
LIMIT_NAMES = sorted(name for name in vars(limits) if name.startswith("MAX_"))


def test_every_message_type_has_one_entry_and_a_vector() -> None:
    assert sorted(e.type for e in REGISTRY) == sorted(MsgType)  # each type once, none left out
    assert len({e.cls for e in REGISTRY}) == len(REGISTRY)
    assert {e.cls for e in REGISTRY} == set(typing.get_args(Message))
    assert sorted(e.type for e in OPS) == sorted(OpType) and len({e.cls for e in OPS}) == len(OPS)
    with_vectors = {v["message"]["type"] for v in VALID}
    assert [e.type.name for e in REGISTRY if e.type.name not in with_vectors] == []


def test_direction_sets_follow_the_entries() -> None:
    for entry in REGISTRY:
        assert (entry.type in AGENT_TO_VIEWER) == (entry.direction is not Direction.TO_AGENT)
        assert (entry.type in VIEWER_TO_AGENT) == (entry.direction is not Direction.TO_VIEWER)


# The largest valid message of each type with a size of its own: its encoding is exactly that size.
_NAME = "名" * (limits.MAX_LAYOUT_NAME_BYTES // 3) + "a" * (limits.MAX_LAYOUT_NAME_BYTES % 3)
LARGEST: dict[MsgType, Message] = {
    MsgType.HELLO: Hello(1, 0xFFFFFFFF),
    MsgType.DESKTOP: Desktop(100, 100, tuple(Monitor(0, 0, 100, 100) for _ in range(limits.MAX_MONITORS))),
    MsgType.CURSOR_SHAPE: CursorShape(limits.MAX_CURSOR, limits.MAX_CURSOR, 0, 0, bytes(limits.MAX_CURSOR**2 * 4)),
    MsgType.CURSOR_POS: CursorPos(1, 1),
    MsgType.STATUS: Status(StatusCode.SESSION_ENDED, "x" * limits.MAX_STATUS_BYTES),
    MsgType.KEYBOARD_LAYOUT: KeyboardLayout(_NAME, tuple(LayoutKey(u, 0x41) for u in range(limits.MAX_LAYOUT_KEYS))),
    MsgType.ACK: Ack(1, 1),
    MsgType.KEY: Key(0x00070004, True),
    MsgType.POINTER: Pointer(1, 1, 1),
    MsgType.WHEEL: Wheel(1, 1),
    MsgType.REFRESH: Refresh(),
    MsgType.TEXT: Text("t" * limits.MAX_TEXT_BYTES),
    MsgType.LOCKS: Locks(LOCK_ALL, LOCK_ALL),
    MsgType.CLIPBOARD: Clipboard("c" * limits.MAX_CLIPBOARD_BYTES),
}


@pytest.mark.parametrize("entry", [e for e in REGISTRY if e.max_size is not None], ids=lambda e: e.type.name)
def test_each_largest_size_is_exact(entry: Any) -> None:
    data = encode(LARGEST[entry.type])
    assert len(data) == entry.max_size
    assert decode(data) == LARGEST[entry.type]


def test_largest_sizes_fit_their_channel() -> None:
    assert set(LARGEST) == {e.type for e in REGISTRY if e.max_size is not None}
    for entry in REGISTRY:
        if entry.direction is not Direction.TO_VIEWER:  # the viewer sends it: it must have a bound of its own
            assert entry.max_size is not None and entry.max_size <= limits.MAX_VIEWER_MESSAGE, entry.type.name
        assert entry.max_size is None or entry.max_size <= limits.MAX_AGENT_MESSAGE


# ---- the JavaScript registry ---------------------------------------------------------------------


@cache
def _javascript() -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is needed (scripts/setup.sh installs it)"
    script = (
        f"import * as p from {json.dumps(PROTOCOL_JS.as_uri())};"
        "const limits = Object.fromEntries(Object.entries(p).filter(([k]) => k.startsWith('MAX_')));"
        "console.log(JSON.stringify({messages: p.MESSAGES, ops: p.OpType, limits, status: p.StatusCode,"
        " codecs: p.Codec, locks: p.Lock, version: p.PROTOCOL_VERSION}));"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True, timeout=30
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_python_and_javascript_registries_list_the_same_messages() -> None:
    js = _javascript()["messages"]
    py = [
        {"type": e.type.value, "name": e.type.name, "direction": e.direction.value, "maxSize": e.max_size}
        for e in REGISTRY
    ]
    assert sorted(js, key=lambda m: m["type"]) == sorted(py, key=lambda m: m["type"])
    assert _javascript()["ops"] == {e.type.name: e.type.value for e in OPS}


def test_javascript_constants_are_the_python_ones() -> None:
    js = _javascript()
    display_limits = {name for name in LIMIT_NAMES if hasattr(codec, name)}  # the control channel is Python's alone
    assert js["limits"] == {name: getattr(limits, name) for name in display_limits}
    assert js["status"] == {c.name: c.value for c in StatusCode}
    assert js["codecs"] == {c.name: c.value for c in messages.Codec}
    locks = {"CAPS": messages.LOCK_CAPS, "NUM": messages.LOCK_NUM, "SCROLL": messages.LOCK_SCROLL}
    assert js["locks"] == {**locks, "KANA": messages.LOCK_KANA}
    assert js["version"] == messages.PROTOCOL_VERSION


# ---- docs/protocol.md -----------------------------------------------------------------------------


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table in the section under `heading`, cells without spaces and backquotes."""
    lines = DOC.split(f"\n{heading}\n", 1)[1].split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(("|", "#")))
    assert lines[start].startswith("|"), f"no table under {heading}"
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = [[c.strip().strip("`") for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[start:end]]
    return rows[2:]  # after the header and its rule


def test_the_doc_lists_every_display_message_and_operation() -> None:
    rows = _table("## Display messages")
    documented = {(int(t, 16), name) for t, name, _direction, _body in rows}
    assert documented == {(e.type.value, e.type.name) for e in REGISTRY}
    for t, _name, direction, _body in rows:
        entry = next(e for e in REGISTRY if e.type.value == int(t, 16))
        assert direction.endswith(entry.direction.value), entry.type.name  # "gateway/agent → viewer" for STATUS
    ops = {(int(t, 16), name) for t, name, _body in _table("### UPDATE operations")}
    assert ops == {(e.type.value, e.type.name) for e in OPS}


def test_the_doc_lists_every_control_message_with_its_sender_and_key_order() -> None:
    rows = _table("## Control channel")
    documented = {name: (sender, [k.strip().strip("`") for k in fields.split(",")]) for name, sender, fields, _ in rows}
    assert documented == {e.name: (e.sender.value, list(e.layout)) for e in CONTROL_REGISTRY}


def test_the_doc_lists_every_limit_and_close_code() -> None:
    assert sorted(row[2] for row in _table("## Framing and limits")) == LIMIT_NAMES
    assert {(int(code), name) for code, name, _ in _table("## Close codes")} == {(c.value, c.name) for c in CloseCode}


def test_the_protocol_package_imports_nothing_of_the_agent_or_the_gateway() -> None:
    for path in (ROOT / "jiseki" / "protocol").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(("jiseki.agent", "jiseki.gateway", "..")), f"{path.name} imports {name}"
