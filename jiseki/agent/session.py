"""One display session on the agent: the data channel's WebSocket, the capture loop and input.

Capture and encoding run in a worker thread so that input from the viewer is injected at once,
even while a large update is being encoded. Input runs on a thread of its own, in arrival order:
typing a long TEXT may have to wait for the X server's clients, and must not stall the loop.
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
    Desktop,
    Hello,
    Key,
    KeyboardLayout,
    Locks,
    Pointer,
    ProtocolError,
    Refresh,
    Text,
    Update,
    Wheel,
    decode_from_viewer,
    encode,
)

from .capture.base import Capture
from .clipboard.base import HostClipboard
from .clipboard.sync import CLIPBOARD_POLL, ClipboardSync
from .encode.stream import DisplayStream
from .input.base import InputSink
from .input.text import refusal
from .policy import AgentPolicy

log = logging.getLogger(__name__)

MAX_PENDING_INPUT = 512  # queued input calls; more means a flooding viewer, and the session ends


class DisplaySession:
    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        capture: Capture,
        sink: InputSink,
        *,
        max_fps: int,
        max_unacked: int,
        jpeg_quality: int,
        policy: AgentPolicy | None = None,
        clipboard: HostClipboard | None = None,
    ) -> None:
        self.ws = ws
        self.capture = capture
        self.sink = sink
        self.policy = policy or AgentPolicy()
        self.clipboard = ClipboardSync(clipboard, self.policy) if clipboard is not None else None
        self.interval = 1.0 / max_fps
        self.stream = DisplayStream(capture.width, capture.height, max_unacked=max_unacked, jpeg_quality=jpeg_quality)
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        self._input = ThreadPoolExecutor(max_workers=1, thread_name_prefix="input")
        # Each counter is written by one thread only (submitted: the loop; done: the input thread).
        self._input_submitted = 0
        self._input_done_count = 0
        self._layout_sent: KeyboardLayout | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _inject(self, call: Callable[..., Any], *args: Any) -> None:
        """Queue one input call; the input thread runs them in arrival order."""
        if self._input_submitted - self._input_done_count >= MAX_PENDING_INPUT:
            raise ProtocolError("the viewer sends input faster than it can be injected")
        self._input_submitted += 1
        self._input.submit(call, *args).add_done_callback(self._input_done)

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

    def _grab_and_encode(self) -> Update | None:
        return self.stream.next_update(self.capture.grab())

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.ws.closed:
            started = time.monotonic()
            if self.stream.can_send():
                update = await loop.run_in_executor(self._executor, self._grab_and_encode)
                if update is not None:
                    await self.ws.send_bytes(encode(update))
            # Sleep until the next tick, or until an ACK or input makes an earlier look worthwhile.
            remaining = self.interval - (time.monotonic() - started)
            self._wake.clear()
            if remaining > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    pass

    def _handle(self, data: bytes) -> None:
        msg = decode_from_viewer(data)
        if isinstance(msg, Ack):
            blocked = not self.stream.can_send()
            self.stream.on_ack(msg)
            if blocked:
                self._wake.set()
        elif isinstance(msg, Key | Pointer | Wheel | Text | Locks) and self.policy.view_only:
            return  # the gateway drops input in view-only sessions; so does the agent
        elif isinstance(msg, Key):
            self._inject(self.sink.key, msg.usage, msg.down)
        elif isinstance(msg, Pointer):
            self._inject(self.sink.pointer, msg.x, msg.y, msg.buttons)
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

    async def run(self) -> None:
        await self.ws.send_bytes(encode(Hello(PROTOCOL_VERSION)))
        await self.ws.send_bytes(
            encode(Desktop(self.capture.width, self.capture.height, tuple(self.capture.monitors())))
        )
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
            self._executor.shutdown(wait=True)
            if not self.ws.closed:
                await self.ws.close()
