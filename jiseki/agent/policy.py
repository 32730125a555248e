"""The session policy as the agent receives it in the offer, enforced again on the office PC.

Which settings come (the catalogue's rows marked `agent`), their values and their defaults are those
of `jiseki.policy_settings`, the gateway's own table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jiseki.policy_kinds import CLIPBOARD_BITS, TO_HOST, TO_TERMINAL
from jiseki.policy_settings import AGENT_SETTINGS, BY_NAME


def _default(name: str) -> Any:
    return BY_NAME[name].default


_DEFAULT_BITS = CLIPBOARD_BITS[_default("clipboard")]


@dataclass(frozen=True)
class AgentPolicy:
    clipboard_to_host: bool = bool(_DEFAULT_BITS & TO_HOST)
    clipboard_to_terminal: bool = bool(_DEFAULT_BITS & TO_TERMINAL)
    clipboard_max_bytes: int = _default("clipboard_max_bytes")
    view_only: bool = _default("view_only")
    lock_on_end: bool = _default("lock_on_end")
    curtain: bool = _default("curtain")


def parse_agent_policy(raw: Any) -> AgentPolicy:
    """Anything missing or malformed falls back to the restrictive default."""
    if not isinstance(raw, dict):
        return AgentPolicy()
    values = {s.name: raw[s.name] if s.kind.accepts(raw.get(s.name)) else s.default for s in AGENT_SETTINGS}
    bits = CLIPBOARD_BITS[values.pop("clipboard")]
    return AgentPolicy(
        # view-only: nothing from the terminal, whatever the gateway says
        clipboard_to_host=bool(bits & TO_HOST) and not values["view_only"],
        clipboard_to_terminal=bool(bits & TO_TERMINAL),
        **values,
    )
