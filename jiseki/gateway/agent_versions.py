"""Whether an office PC's agent is older than the gateway (the console points those PCs out, so IT
can roll the new version out to them). Pure: version strings in, a word out."""

from __future__ import annotations

import re
from typing import Literal

from jiseki import __version__

_RELEASE = re.compile(r"^(\d+(?:\.\d+)*)")

Age = Literal["older", "same", "newer"]


def _numbers(version: str) -> tuple[int, ...] | None:
    """The leading release numbers ("0.14.2rc1" -> (0, 14, 2)); None when there are none."""
    found = _RELEASE.match(version.strip())
    if found is None:
        return None
    parts = [int(p) for p in found.group(1).split(".")[:6]]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()  # 1.0 == 1.0.0
    return tuple(parts)


def agent_age(agent_version: str | None, gateway_version: str = __version__) -> Age | None:
    """How the agent's version compares to the gateway's; None when the agent said nothing usable."""
    if not agent_version:
        return None
    agent, gateway = _numbers(agent_version), _numbers(gateway_version)
    if agent is None or gateway is None:
        return None
    return "older" if agent < gateway else "newer" if agent > gateway else "same"
