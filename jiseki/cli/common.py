"""What several command groups share: the operator's error, reading an input file, days in Japan time,
running until a signal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


class CommandError(Exception):
    """Printed as one line, exit status 1."""


def read_input(path: Path) -> bytes:
    """The bytes of a file the operator named (a CSV, a CSR)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def read_csv(path: Path) -> str:
    """The text of a CSV file the operator named, in the encodings Excel writes."""
    from jiseki.gateway.auth.users_csv import decode_csv

    data = read_input(path)
    try:
        return decode_csv(data)
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None


def jst_date(text: str, flag: str) -> dt.datetime:
    """The start of a day (YYYY-MM-DD, given with `flag`) in Japan time."""
    from jiseki.i18n import JST

    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{flag}: give a date as YYYY-MM-DD (Japan time), got {text!r}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=JST)


async def until_signalled(work: Any, before_cancel: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run `work` until SIGTERM or Ctrl+C (Windows: Ctrl+C, Ctrl+Break or the service's stop), then
    cancel it so that it can clean up."""
    import asyncio  # here: the commands that never run a loop do not load it
    import signal

    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()

    async def stop() -> None:
        if before_cancel is not None:
            try:
                await asyncio.wait_for(before_cancel(), 5)
            except (TimeoutError, OSError):
                pass
        task.cancel()

    def on_signal(*_args: object) -> None:
        loop.call_soon_threadsafe(lambda: loop.create_task(stop()))

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):
            # Windows' event loop has no add_signal_handler: the C runtime's handler runs in the main
            # thread between the loop's waits, and hands the stop over to the loop.
            signal.signal(sig, on_signal)
    try:
        await task
    except asyncio.CancelledError:
        pass
