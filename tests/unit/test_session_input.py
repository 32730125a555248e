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
    return DisplaySession(FakeCapture(), sink, max_fps=30, max_unacked=2, jpeg_quality=80)  # type: ignore[arg-type]


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


class PrimedCapture(FakeCapture):
    """A screen with something on it, and a way to make the first grab fail."""

    def __init__(self, fail_first: bool = False) -> None:
        self.grabs = 0
        self.fail_first = fail_first

    def grab(self, hint: object = None) -> np.ndarray:
        self.grabs += 1
        if self.fail_first and self.grabs == 1:
            raise OSError("the display went away")
        frame = np.zeros((32, 64, 4), np.uint8)
        frame[4:12, 8:40, 2] = 200
        return frame

    def fileno(self) -> None:
        return None

    def damage(self) -> None:
        return None

    def moves(self) -> list[object]:
        return []

    def pending(self) -> bool:
        return False

    def cursor(self) -> None:
        return None


class FakeSocket:
    """Records what the session sends; the viewer goes away once the first UPDATE came."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    def __aiter__(self) -> FakeSocket:
        return self

    async def __anext__(self) -> object:
        import asyncio

        for _ in range(200):
            if any(d[0] == 0x11 for d in self.sent):
                break
            await asyncio.sleep(0.01)
        self.closed = True
        raise StopAsyncIteration

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("fail_first", [False, True])
async def test_the_first_picture_is_prepared_before_the_channel_opens(fail_first: bool) -> None:
    """`prime` encodes the whole first picture while the agent dials; `run` sends it right after
    DESKTOP. If preparing it failed, the send loop still sends a whole picture."""
    from jiseki.protocol import Desktop, Hello, Update, decode_from_agent

    capture, sink = PrimedCapture(fail_first), RecordingSink()
    s = DisplaySession(capture, sink, max_fps=30, max_unacked=2, jpeg_quality=80)  # type: ignore[arg-type]
    s.prime()
    ws = FakeSocket()
    await s.run(ws)  # type: ignore[arg-type]
    messages = [decode_from_agent(d) for d in ws.sent]
    assert isinstance(messages[0], Hello) and isinstance(messages[1], Desktop)
    updates = [m for m in messages if isinstance(m, Update)]
    assert updates and updates[0].seq == 1
    covered = sum(op.w * op.h for op in updates[0].ops)  # type: ignore[union-attr]
    assert covered == 64 * 32  # the whole screen in the first update
    if not fail_first:
        assert isinstance(messages[2], Update)  # before the layout and the loop's first look
        assert capture.grabs == 1
    else:
        assert capture.grabs >= 2


def test_a_session_whose_channel_never_opened_lets_its_threads_go() -> None:
    import asyncio

    async def main() -> DisplaySession:
        s = DisplaySession(PrimedCapture(), RecordingSink(), max_fps=30, max_unacked=2, jpeg_quality=80)  # type: ignore[arg-type]
        s.prime()
        s.discard()
        await asyncio.sleep(0.05)
        return s

    s = asyncio.run(main())
    assert s._executor._shutdown and s._input._shutdown  # type: ignore[attr-defined]
