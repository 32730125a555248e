"""Session recordings: the display stream the gateway relays, with timestamps, in a compressed file.

Only what the office PC showed is kept: DESKTOP, UPDATE and cursor messages. Keystrokes, pointer
input and clipboard content are never written. The viewer's own code plays the file back.

File format (gzip-compressed):
    b"JSKREC1\\n"                       magic and version
    one line of JSON + b"\\n"          metadata: session, host, user, terminal, started (UTC ISO)
    frames: u32 milliseconds since start, u32 length, one protocol message (big-endian)

Writing happens in a thread fed by a bounded queue, so the relay never waits for the disk unless
the disk falls far behind.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import queue
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jiseki.protocol import MsgType

MAGIC = b"JSKREC1\n"
FRAME = struct.Struct(">II")
RECORDED_TYPES = frozenset({MsgType.DESKTOP, MsgType.UPDATE, MsgType.CURSOR_SHAPE, MsgType.CURSOR_POS})
KEYFRAME_INTERVAL = 300.0  # seconds between full refreshes requested while recording (fast seeking)
QUEUE_SIZE = 512
_STOP = None


class RecordingError(ValueError):
    pass


@dataclass
class RecordingStats:
    frames: int = 0
    bytes_in: int = 0
    duration_ms: int = 0


class Recorder:
    def __init__(self, path: Path, metadata: dict[str, Any]) -> None:
        self.path = path
        self.stats = RecordingStats()
        self._started = time.monotonic()
        self._queue: queue.Queue[tuple[int, bytes] | None] = queue.Queue(QUEUE_SIZE)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # 0600 from the start: what the office PC showed is for the gateway's user (and the auditors' page) only.
        raw = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
        # Images are already compressed: level 1 is enough.
        self._file = gzip.GzipFile(filename=path.name, mode="wb", compresslevel=1, fileobj=raw)
        self._raw = raw
        self._file.write(MAGIC + json.dumps(metadata, ensure_ascii=False).encode() + b"\n")
        self._thread = threading.Thread(target=self._write_loop, name=f"recorder-{path.stem}", daemon=True)
        self._thread.start()

    @staticmethod
    def wanted(data: bytes) -> bool:
        return len(data) > 0 and data[0] in RECORDED_TYPES

    async def add(self, data: bytes) -> None:
        """Queue one agent→viewer message (if of a recorded type)."""
        if not self.wanted(data):
            return
        ms = int((time.monotonic() - self._started) * 1000)
        item = (ms, bytes(data))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            await asyncio.to_thread(self._queue.put, item)  # the disk is behind: wait rather than lose frames
        self.stats.frames += 1
        self.stats.bytes_in += len(data)
        self.stats.duration_ms = ms

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            ms, data = item
            self._file.write(FRAME.pack(ms, len(data)) + data)
        self._file.close()
        self._raw.close()  # GzipFile leaves a file object it was given open

    async def close(self) -> int:
        """Finish the file; returns its size in bytes."""
        self.stats.duration_ms = int((time.monotonic() - self._started) * 1000)
        await asyncio.to_thread(self._queue.put, _STOP)
        await asyncio.to_thread(self._thread.join)
        return self.path.stat().st_size


def read_recording(path: Path, max_frame: int = 64 * 1024 * 1024) -> tuple[dict[str, Any], Iterator[tuple[int, bytes]]]:
    """(metadata, frames) of a recording file; raises RecordingError for a damaged file."""
    fh = gzip.open(path, "rb")
    if fh.read(len(MAGIC)) != MAGIC:
        fh.close()
        raise RecordingError(f"{path} is not a jiseki recording")
    try:
        metadata = json.loads(fh.readline(64 * 1024))
    except ValueError:
        fh.close()
        raise RecordingError(f"{path}: damaged metadata") from None

    def frames() -> Iterator[tuple[int, bytes]]:
        with fh:
            while True:
                head = fh.read(FRAME.size)
                if not head:
                    return
                if len(head) < FRAME.size:
                    raise RecordingError(f"{path}: truncated frame header")
                ms, length = FRAME.unpack(head)
                if length > max_frame:
                    raise RecordingError(f"{path}: frame of {length} bytes")
                data = fh.read(length)
                if len(data) != length:
                    raise RecordingError(f"{path}: truncated frame")
                yield ms, data

    return metadata, frames()
