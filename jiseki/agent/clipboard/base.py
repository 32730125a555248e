"""The clipboard interface every platform backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class HostClipboard(Protocol):
    def get_text(self) -> str | None:
        """The clipboard's text, or None when it holds no text."""
        ...

    def set_text(self, text: str) -> None: ...

    def close(self) -> None:
        """End what the backend runs (Windows: its change listener's window and thread)."""
        ...


@runtime_checkable
class ChangeCounter(Protocol):
    """Optional for a backend: a cheap look whether the clipboard changed, so that polling does not
    read (and hash) the whole text every time."""

    def sequence(self) -> int | None:
        """A number that changes whenever the clipboard does; None when the backend cannot tell."""
        ...
