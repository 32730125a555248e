"""Find code that takes a second pooled database connection while its task already holds one.

With a bounded pool (SQLAlchemy's default: 5 + 10 overflow), enough such tasks at once each hold a
connection and wait for another until the pool times out: every request of the node then fails.
The load harness found one (session requests with 50 viewers per node); this keeps them out.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import greenlet
from sqlalchemy import event
from sqlalchemy.pool import Pool


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # a thread without a loop (migrations run in one)
        return None


def _where() -> str:
    """The jiseki frames that asked: SQLAlchemy's async layer runs the pool in a greenlet, so they are
    on the parent greenlet's stack (the coroutine awaiting the query)."""
    frames = []
    current = greenlet.getcurrent()
    while current is not None:
        frame = sys._getframe() if current is greenlet.getcurrent() else current.gr_frame
        while frame is not None:
            name = frame.f_code.co_filename
            if "/jiseki/" in name:
                frames.append(f"{name.split('/jiseki/', 1)[1]}:{frame.f_lineno} {frame.f_code.co_name}")
            frame = frame.f_back
        current = current.parent
    return " <- ".join(frames[:8]) or "(no jiseki frame)"


class NestedCheckouts:
    def __init__(self) -> None:
        self.held: dict[int, set[int]] = {}
        self.owner: dict[int, int] = {}
        self.found: dict[str, int] = {}

    def _checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        task = _current_task()
        if task is None:
            return
        mine = self.held.setdefault(id(task), set())
        if mine:
            where = _where()
            self.found[where] = self.found.get(where, 0) + 1
        mine.add(id(record))
        self.owner[id(record)] = id(task)

    def _checkin(self, _dbapi: Any, record: Any) -> None:
        task_id = self.owner.pop(id(record), None)
        if task_id is not None:
            self.held.get(task_id, set()).discard(id(record))

    def __enter__(self) -> NestedCheckouts:
        event.listen(Pool, "checkout", self._checkout)
        event.listen(Pool, "checkin", self._checkin)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(Pool, "checkout", self._checkout)
        event.remove(Pool, "checkin", self._checkin)
