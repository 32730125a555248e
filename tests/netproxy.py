"""A TCP proxy under the test's control, for faults this machine cannot make with `tc netem`:
cut every connection (a mobile network dropping), refuse new ones for a while, add delay, cap the
bandwidth. TLS passes through untouched. Runs its own event loop in a thread, so synchronous tests
(Playwright) and benchmarks can drive it."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass


@dataclass
class LinkShape:
    delay: float = 0.0  # one-way seconds added to every chunk
    rate: float = 0.0  # bytes per second in each direction; 0 = unlimited


class NetProxy:
    def __init__(self, target_host: str, target_port: int, shape: LinkShape | None = None) -> None:
        self.target = (target_host, target_port)
        self.shape = shape or LinkShape()
        self.port = 0
        self.down = False
        self.bytes = {"up": 0, "down": 0}
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netproxy", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str) -> None:
        try:
            while not self.down:
                data = await reader.read(65536)
                if not data:
                    break
                if self.shape.delay:
                    await asyncio.sleep(self.shape.delay)
                if self.shape.rate:
                    await asyncio.sleep(len(data) / self.shape.rate)
                self.bytes[key] += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer, "up"), self._pipe(up_reader, writer, "down"))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        """The link goes down: every connection is broken (no close handshake), new ones fail."""

        def abort() -> None:
            self.down = True
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(abort)
        time.sleep(0.1)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(lambda: setattr(self, "down", False))
        time.sleep(0.1)

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
