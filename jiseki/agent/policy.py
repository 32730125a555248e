"""The session policy as the agent receives it in the offer, enforced again on the office PC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jiseki.protocol import MAX_CLIPBOARD_BYTES as MAX_CLIPBOARD

_CLIPBOARD = {"none": (False, False), "to_host": (True, False), "to_terminal": (False, True), "both": (True, True)}


@dataclass(frozen=True)
class AgentPolicy:
    clipboard_to_host: bool = False
    clipboard_to_terminal: bool = False
    clipboard_max_bytes: int = 64 * 1024
    view_only: bool = False
    lock_on_end: bool = True
    curtain: bool = True


def parse_agent_policy(raw: Any) -> AgentPolicy:
    """Anything missing or malformed falls back to the restrictive default."""
    if not isinstance(raw, dict):
        return AgentPolicy()
    to_host, to_terminal = _CLIPBOARD.get(raw.get("clipboard"), (False, False))  # type: ignore[arg-type]
    size = raw.get("clipboard_max_bytes")
    size = size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_CLIPBOARD else 64 * 1024

    def flag(key: str, default: bool) -> bool:
        value = raw.get(key)
        return value if isinstance(value, bool) else default

    view_only = flag("view_only", False)
    return AgentPolicy(
        clipboard_to_host=to_host and not view_only,  # view-only: nothing from the terminal, whatever the gateway says
        clipboard_to_terminal=to_terminal,
        clipboard_max_bytes=size,
        view_only=view_only,
        lock_on_end=flag("lock_on_end", True),
        curtain=flag("curtain", True),
    )
