"""One display session on the agent: the data channel's WebSocket, the capture loop and input.

Capture and encoding run in a worker thread so that input from the viewer is injected at once
on the event loop, even while a large update is being encoded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp

from jiseki.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Clipboard,
    Desktop,
    Hello,
    Key,
    Pointer,
    ProtocolError,
    Refresh,
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
from .policy import AgentPolicy

log = logging.getLogger(__name__)


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
        elif isinstance(msg, Key | Pointer | Wheel) and self.policy.view_only:
            return  # the gateway drops input in view-only sessions; so does the agent
        elif isinstance(msg, Key):
            self.sink.key(msg.usage, msg.down)
        elif isinstance(msg, Pointer):
            self.sink.pointer(msg.x, msg.y, msg.buttons)
        elif isinstance(msg, Wheel):
            self.sink.wheel(msg.dx, msg.dy)
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
        sender = asyncio.create_task(self._send_loop())
        watcher = asyncio.create_task(self._clipboard_loop())
        try:
            await self._receive_loop()
        except ProtocolError as exc:
            log.warning("session ended: invalid data from the viewer (%s)", exc)
        finally:
            sender.cancel()
            watcher.cancel()
            await asyncio.gather(sender, watcher, return_exceptions=True)
            self.sink.release_all()  # no key stays held on the host after the session
            self._executor.shutdown(wait=True)
            if not self.ws.closed:
                await self.ws.close()
