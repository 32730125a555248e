"""The agent session's handling of viewer messages: hostile TEXT refused, order kept, floods ended, view-only."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from jiseki.agent import session as session_module
from jiseki.agent.policy import AgentPolicy
from jiseki.agent.session import DisplaySession
from jiseki.protocol import (
    BUTTON_LEFT,
    LOCK_CAPS,
    Clipboard,
    Key,
    KeyboardLayout,
    Locks,
    Monitor,
    Pointer,
    ProtocolError,
    Text,
    encode,
)


class FakeCapture:
    width = 64
    height = 32

    def grab(self) -> np.ndarray:
        return np.zeros((32, 64, 4), np.uint8)

    def monitors(self) -> list[Monitor]:
        return [Monitor(0, 0, 64, 32)]

    def close(self) -> None:
        pass


class RecordingSink:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.gate = gate

    def _record(self, name: str, *args: Any) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        self.calls.append((name, *args))

    def key(self, usage: int, down: bool) -> None:
        self._record("key", usage, down)

    def text(self, text: str) -> None:
        self._record("text", text)

    def set_locks(self, known: int, state: int) -> None:
        self._record("locks", known, state)

    def layout(self) -> KeyboardLayout | None:
        return None

    def pointer(self, x: int, y: int, buttons: int) -> None:
        self._record("pointer", x, y, buttons)

    def wheel(self, dx: int, dy: int) -> None:
        self._record("wheel", dx, dy)

    def release_all(self) -> None:
        self.calls.append(("release_all",))

    def close(self) -> None:
        pass


def make_session(sink: RecordingSink) -> DisplaySession:
    return DisplaySession(None, FakeCapture(), sink, max_fps=30, max_unacked=2, jpeg_quality=80)  # type: ignore[arg-type]


async def test_text_with_control_characters_is_refused_and_the_rest_keeps_its_order() -> None:
    sink = RecordingSink()
    s = make_session(sink)
    s._handle(encode(Key(0x00070004, True)))
    s._handle(encode(Text("rm -rf ~\n")))  # would run a command: refused as a whole
    s._handle(encode(Text("日本語")))
    s._handle(encode(Locks(LOCK_CAPS, 0)))
    s._handle(encode(Key(0x00070004, False)))
    s._input.shutdown(wait=True)
    assert sink.calls == [
        ("key", 0x00070004, True),
        ("text", "日本語"),
        ("locks", LOCK_CAPS, 0),
        ("key", 0x00070004, False),
    ]
    for task in s._tasks:
        task.cancel()


async def test_a_flood_of_input_ends_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "MAX_PENDING_INPUT", 8)
    gate = threading.Event()
    sink = RecordingSink(gate)
    s = make_session(sink)
    with pytest.raises(ProtocolError):
        for _ in range(20):
            s._handle(encode(Key(0x00070004, True)))
    gate.set()
    s._input.shutdown(wait=True)
    assert 8 <= len(sink.calls) <= 9


class FakeClipboard:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def get_text(self) -> str | None:
        return None

    def set_text(self, text: str) -> None:
        self.writes.append(text)

    def close(self) -> None:
        pass


async def test_view_only_session_takes_no_clipboard_from_the_terminal() -> None:
    board, sink = FakeClipboard(), RecordingSink()
    policy = AgentPolicy(clipboard_to_host=True, clipboard_to_terminal=True, view_only=True)
    s = DisplaySession(
        None,  # type: ignore[arg-type]
        FakeCapture(),  # type: ignore[arg-type]
        sink,  # type: ignore[arg-type]
        max_fps=30,
        max_unacked=2,
        jpeg_quality=80,
        policy=policy,
        clipboard=board,
    )
    s._handle(encode(Clipboard("from home")))
    s._handle(encode(Key(0x00070004, True)))
    s._input.shutdown(wait=True)
    assert board.writes == [] and sink.calls == []


async def test_pointer_moves_queued_behind_slow_text_are_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text behind a host IME types slowly; the pointer moves meanwhile must not end the session as
    a flood: consecutive queued moves with the same buttons become the latest one."""
    monkeypatch.setattr(session_module, "MAX_PENDING_INPUT", 8)
    gate = threading.Event()
    sink = RecordingSink(gate)
    s = make_session(sink)
    s._handle(encode(Text("日本語")))  # the input thread is busy with it until the gate opens
    for x in range(100):
        s._handle(encode(Pointer(x, 5, 0)))
    s._handle(encode(Pointer(100, 5, BUTTON_LEFT)))  # a press is never merged away
    s._handle(encode(Key(0x00070004, True)))
    s._handle(encode(Pointer(101, 6, BUTTON_LEFT)))
    s._handle(encode(Pointer(102, 7, BUTTON_LEFT)))
    gate.set()
    s._input.shutdown(wait=True)
    assert sink.calls == [
        ("text", "日本語"),
        ("pointer", 99, 5, 0),
        ("pointer", 100, 5, BUTTON_LEFT),
        ("key", 0x00070004, True),
        ("pointer", 102, 7, BUTTON_LEFT),
    ]
