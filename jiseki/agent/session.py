"""One display session on the agent: the data channel's WebSocket, the capture loop and input.

Capture and encoding run in a worker thread so that input from the viewer is injected at once,
even while a large update is being encoded. Input runs on a thread of its own, in arrival order:
typing a long TEXT may have to wait for the X server's clients, and must not stall the loop. The
loop sleeps until the window system reports drawing (the capture's fd), an ACK reopens the
flow-control window, the viewer asks for a refresh, or lossy areas are due to be refined: an idle
desktop costs no work at all.

The session is made before its data channel is dialled: `prime` grabs and encodes the first
picture meanwhile, and `run(ws)` sends it as soon as the channel is open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import aiohttp

from jiseki.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Clipboard,
    CursorPos,
    CursorShape,
    Desktop,
    Hello,
    Key,
    KeyboardLayout,
    Locks,
    Pointer,
    ProtocolError,
    Rect,
    Refresh,
    Text,
    Wheel,
    decode_from_viewer,
    encode,
)

from .capture.base import Capture, MoveHint
from .clipboard.base import HostClipboard
from .clipboard.sync import CLIPBOARD_POLL, ClipboardSync
from .encode.flow import FlowControl, FlowSettings
from .encode.rects import union
from .encode.stream import DisplayStream
from .encode.videostream import for_viewer
from .input.base import InputSink, PendingMove
from .input.text import refusal
from .policy import AgentPolicy

log = logging.getLogger(__name__)

MAX_PENDING_INPUT = 512  # queued input calls; more means a flooding viewer, and the session ends


class DisplaySession:
    ws: aiohttp.ClientWebSocketResponse  # given to `run`

    def __init__(
        self,
        capture: Capture,
        sink: InputSink,
        *,
        max_fps: int,
        max_unacked: int,
        jpeg_quality: int,
        policy: AgentPolicy | None = None,
        clipboard: HostClipboard | None = None,
    ) -> None:
        self.capture = capture
        self.sink = sink
        self.policy = policy or AgentPolicy()
        self.clipboard = ClipboardSync(clipboard, self.policy) if clipboard is not None else None
        flow = FlowControl(FlowSettings(max_updates=max_unacked, quality_max=jpeg_quality, interval_min=1.0 / max_fps))
        self.stream = DisplayStream(capture.width, capture.height, flow=flow)
        self._wake = asyncio.Event()
        # The stream is used by the encoder thread while it encodes; ACKs that arrive meanwhile
        # wait here and are applied on the event loop thread afterwards (no shared mutation).
        self._encoding = False
        self._acks: list[tuple[Ack, float]] = []
        self._stats = {"looks": 0, "updates": 0, "bytes": 0, "grab_cpu": 0.0, "encode_cpu": 0.0}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        self._input = ThreadPoolExecutor(max_workers=1, thread_name_prefix="input")
        # Each counter is written by one thread only (submitted: the loop; done: the input thread).
        self._input_submitted = 0
        self._input_done_count = 0
        self._pending_move: PendingMove | None = None  # the last input queued, if a move not yet run
        self._layout_sent: KeyboardLayout | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._primed: asyncio.Future[bytes | None] | None = None

    def prime(self) -> None:
        """Grab and encode the first picture now, on the encoding thread, while the data channel is
        being dialled: it leaves as soon as the channel opens (the first grab and encode of a
        1080p desktop take ~35 ms)."""
        loop = asyncio.get_running_loop()
        self._primed = loop.run_in_executor(self._executor, self._grab_and_encode, None, [], time.monotonic())

    def _inject(self, call: Callable[..., Any], *args: Any) -> None:
        """Queue one input call; the input thread runs them in arrival order."""
        self._pending_move = None
        if self._input_submitted - self._input_done_count >= MAX_PENDING_INPUT:
            raise ProtocolError("the viewer sends input faster than it can be injected")
        self._input_submitted += 1
        self._input.submit(call, *args).add_done_callback(self._input_done)

    def _inject_pointer(self, msg: Pointer) -> None:
        # While the input thread is busy (long text behind a host IME types for seconds), moves
        # queue up: a move right behind another with the same buttons replaces it, so a moving
        # pointer is not taken for a flood. Button changes and their order are kept.
        if self._pending_move is not None and self._pending_move.replace(msg):
            return
        move = PendingMove(msg)
        self._inject(self._move_pointer, move)
        self._pending_move = move

    def _move_pointer(self, move: PendingMove) -> None:
        self.sink.pointer(*move.take())

    def _input_done(self, future: Future[Any]) -> None:
        self._input_done_count += 1
        if not future.cancelled() and future.exception() is not None:
            log.error("input injection failed: %r", future.exception())

    async def _send_layout_if_changed(self) -> None:
        """KEYBOARD_LAYOUT at the start, and again whenever the host's layout changed."""
        try:
            layout = await asyncio.get_running_loop().run_in_executor(self._input, self.sink.layout)
        except Exception as exc:  # a layout we cannot read must not end the session
            log.warning("cannot read the host's keyboard layout: %r", exc)
            return
        if layout is not None and layout != self._layout_sent and not self.ws.closed:
            self._layout_sent = layout
            await self.ws.send_bytes(encode(layout))

    def _grab_and_encode(self, hint: Rect | None, moves: list[MoveHint], now: float) -> bytes | None:
        started = time.thread_time()
        frame = self.capture.grab(hint)
        grabbed = time.thread_time()
        update = self.stream.next_update(frame, now, hint, moves)
        data = encode(update) if update is not None else None
        self._stats["grab_cpu"] += grabbed - started
        self._stats["encode_cpu"] += time.thread_time() - grabbed
        self._stats["looks"] += 1
        if data is not None:
            self._stats["updates"] += 1
            self._stats["bytes"] += len(data)
        return data

    async def _send_cursor(self) -> None:
        shape = self.capture.cursor()
        if shape is not None:
            await self.ws.send_bytes(encode(CursorShape(shape.w, shape.h, shape.hot_x, shape.hot_y, shape.rgba)))
            x = min(max(shape.x, 0), self.capture.width - 1)
            y = min(max(shape.y, 0), self.capture.height - 1)
            await self.ws.send_bytes(encode(CursorPos(x, y)))

    def _on_window_system(self) -> None:
        # Read the events now: a readable descriptor left unread would wake the loop again at once
        # (level-triggered), spinning it while it is meant to sleep.
        self.capture.pending()
        self._wake.set()

    def _due(self, hint: list[Rect] | None, now: float) -> bool:
        refine = self.stream.refine_at()
        return (
            hint is None
            or bool(hint)
            or self.stream.refresh_pending
            or self.stream.unsent is not None  # changes the last update had no room for
            or (refine is not None and now >= refine)
        )

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        fd = self.capture.fileno()
        if fd is not None:
            loop.add_reader(fd, self._on_window_system)
        try:
            while not self.ws.closed:
                started = time.monotonic()
                self._wake.clear()
                await self._send_cursor()
                if self.stream.can_send():
                    hints = self.capture.damage()  # taken only when it can be used: none is lost
                    moves = self.capture.moves()  # the moves that go with that damage (hints, verified)
                    if self._due(hints, started):
                        # Changes the last update had no room for are looked at again with the new ones.
                        rects = [*(hints or []), *([self.stream.unsent] if self.stream.unsent else [])]
                        hint = union(rects) if hints is not None and rects else None
                        self._encoding = True
                        try:
                            data = await loop.run_in_executor(
                                self._executor, self._grab_and_encode, hint, moves, started
                            )
                        finally:
                            self._encoding = False
                            self._apply_acks()
                        if data is not None:
                            await self.ws.send_bytes(data)
                # At most one look per frame interval (the flow controller lengthens it under delay)...
                remaining = self.stream.flow.interval - (time.monotonic() - started)
                if remaining > 0:
                    await asyncio.sleep(remaining)
                if fd is None:
                    continue  # no change notification from this backend: look every interval
                # ...then sleep until there is a reason to look again.
                if self.capture.pending() and self.stream.can_send():
                    continue
                refine = self.stream.refine_at()
                timeout = None if refine is None else max(0.0, refine - time.monotonic())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            if fd is not None:
                loop.remove_reader(fd)

    def _apply_acks(self) -> None:
        if not self._acks:
            return
        blocked = not self.stream.can_send()
        for ack, at in self._acks:
            self.stream.on_ack(ack, at)
        self._acks.clear()
        if blocked and self.stream.can_send():
            self._wake.set()

    def _handle(self, data: bytes) -> None:
        msg = decode_from_viewer(data)
        if isinstance(msg, Ack):
            self._acks.append((msg, time.monotonic()))
            if not self._encoding:
                self._apply_acks()
        elif isinstance(msg, Key | Pointer | Wheel | Text | Locks | Clipboard) and self.policy.view_only:
            return  # the gateway drops input and terminal clipboard in view-only sessions; so does the agent
        elif isinstance(msg, Key):
            self._inject(self.sink.key, msg.usage, msg.down)
        elif isinstance(msg, Pointer):
            self._inject_pointer(msg)
        elif isinstance(msg, Wheel):
            self._inject(self.sink.wheel, msg.dx, msg.dy)
        elif isinstance(msg, Text):
            reason = refusal(msg.text)
            if reason is None:
                self._inject(self.sink.text, msg.text)
            else:
                log.warning("refused text from the viewer: %s", reason)
        elif isinstance(msg, Locks):
            # LOCKS comes when the user returns to the window: a good moment to recheck the layout.
            self._inject(self.sink.set_locks, msg.known, msg.state)
            task = asyncio.create_task(self._send_layout_if_changed())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(msg, Clipboard):
            if self.clipboard is not None:
                self.clipboard.from_viewer(msg.text)
        elif isinstance(msg, Refresh):
            self.stream.request_refresh()
            self._wake.set()
        elif isinstance(msg, Hello):
            if msg.version != PROTOCOL_VERSION:
                raise ProtocolError(f"viewer speaks protocol version {msg.version}")
            self.stream.video = for_viewer(msg.flags, self.capture.width, self.capture.height, self.stream.video)

    async def _clipboard_loop(self) -> None:
        """Send the office PC's clipboard to the terminal when it changes (if the policy allows)."""
        if self.clipboard is None or not self.policy.clipboard_to_terminal:
            return
        while not self.ws.closed:
            text = await asyncio.to_thread(self.clipboard.changed_text)
            if text is not None:
                await self.ws.send_bytes(encode(Clipboard(text)))
            await asyncio.sleep(CLIPBOARD_POLL)

    async def _receive_loop(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            self._handle(msg.data)

    async def _take_primed(self) -> bytes | None:
        primed, self._primed = self._primed, None
        if primed is None:
            return None
        try:
            return await primed
        except Exception as exc:  # the send loop looks again; the viewer must still get a whole picture
            log.warning("the first picture could not be prepared: %r", exc)
            self.stream.request_refresh()
            return None

    def discard(self) -> None:
        """The data channel could not be opened: let the threads go (a new session is made for the
        next dial)."""
        if self._primed is not None:
            self._primed.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
            self._primed = None
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._input.shutdown(wait=False, cancel_futures=True)

    async def run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        await self.ws.send_bytes(encode(Hello(PROTOCOL_VERSION)))
        await self.ws.send_bytes(
            encode(Desktop(self.capture.width, self.capture.height, tuple(self.capture.monitors())))
        )
        first = await self._take_primed()
        if first is not None:
            await self.ws.send_bytes(first)
        await self._send_layout_if_changed()
        sender = asyncio.create_task(self._send_loop())
        watcher = asyncio.create_task(self._clipboard_loop())
        try:
            await self._receive_loop()
        except ProtocolError as exc:
            log.warning("session ended: invalid data from the viewer (%s)", exc)
        finally:
            sender.cancel()
            watcher.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(sender, watcher, *self._tasks, return_exceptions=True)
            self._input.shutdown(wait=True, cancel_futures=True)
            self.sink.release_all()  # no key stays held on the host after the session
            st, flow = self._stats, self.stream.flow
            log.info(
                "display: %d looks, %d updates, %d bytes; CPU s: grab %.2f, encode %.2f; "
                "flow: base rtt %.0f ms, last %.0f ms, quality %d, interval %.0f ms",
                *(st[k] for k in ("looks", "updates", "bytes", "grab_cpu", "encode_cpu")),
                flow.base_rtt() * 1000,
                flow.last_rtt * 1000,
                flow.quality,
                flow.interval * 1000,
            )
            self._executor.shutdown(wait=True)
            if not self.ws.closed:
                await self.ws.close()
