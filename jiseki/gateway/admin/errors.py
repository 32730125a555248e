"""The error an administrator can correct, and limits every operation shares."""

from __future__ import annotations

from typing import Any

MAX_NAME = 255
MAX_REASON = 200
TOKEN_HOURS = (0.25, 24.0 * 14)  # the shortest and longest validity of an enrollment token


class AdminError(Exception):
    """A request an administrator can correct. `msgid` (with `values`) is shown in their language."""

    def __init__(self, msgid: str, **values: Any) -> None:
        super().__init__(msgid.format(**values))
        self.msgid = msgid
        self.values = values
