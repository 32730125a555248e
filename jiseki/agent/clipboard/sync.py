"""Which clipboard changes cross, and which not (pure apart from the clipboard backend).

Only text, only in the directions the policy allows, only up to its size limit; a text that came
from the terminal is not echoed back to it.
"""

from __future__ import annotations

import hashlib
import logging

from ..policy import AgentPolicy
from .base import ChangeCounter, HostClipboard

log = logging.getLogger(__name__)

CLIPBOARD_POLL = 0.5  # seconds between looks at the office PC's clipboard


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ClipboardSync:
    def __init__(self, backend: HostClipboard, policy: AgentPolicy) -> None:
        self.backend = backend
        self.policy = policy
        self._last: str | None = None  # digest of the text both sides have
        self._counter = backend if isinstance(backend, ChangeCounter) else None
        self._seen: int | None = None  # the backend's sequence() when the clipboard was last read
        if policy.clipboard_to_terminal:
            current = backend.get_text()
            self._last = _digest(current) if current is not None else None  # what was there before: stays

    def from_viewer(self, text: str) -> bool:
        refused = self.policy.view_only or not self.policy.clipboard_to_host
        if refused or len(text.encode()) > self.policy.clipboard_max_bytes:
            log.warning("clipboard text from the terminal refused by the session policy")
            return False
        self._last = _digest(text)
        self.backend.set_text(text)
        return True

    def changed_text(self) -> str | None:
        """The office PC's clipboard text if it changed since last time and may go to the terminal."""
        if not self.policy.clipboard_to_terminal:
            return None
        # Taken before the read: a change during the read moves it again and is read next time.
        sequence = self._counter.sequence() if self._counter is not None else None
        if sequence is not None and sequence == self._seen:
            return None
        self._seen = sequence
        text = self.backend.get_text()
        if text is None or _digest(text) == self._last:
            return None
        self._last = _digest(text)
        if len(text.encode()) > self.policy.clipboard_max_bytes:
            return None
        return text
