"""The clipboard interface every platform backend implements."""

from __future__ import annotations

from typing import Protocol


class HostClipboard(Protocol):
    def get_text(self) -> str | None:
        """The clipboard's text, or None when it holds no text."""
        ...

    def set_text(self, text: str) -> None: ...
