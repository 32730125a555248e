"""The host-control interface every platform backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class HostState:
    """What the console and the portal show of the PC itself."""

    user: str | None = None  # who is signed in at the desk
    locked: bool | None = None  # None: this platform cannot tell


class HostControl(Protocol):
    def state(self) -> HostState:
        """The signed-in user and whether the desktop is locked (cheap: asked every few seconds)."""
        ...

    def lock(self) -> bool:
        """Lock the desktop session (the owner's password is needed at the desk). True if done."""
        ...

    def set_curtain(self, on: bool) -> list[str]:
        """Blank the local monitor and block local input while a remote session is live.
        Returns what could be done, as short keys for the session log (platforms differ)."""
        ...


class NoHostControl:
    """For platforms or tests without host privacy: does nothing and says so."""

    def state(self) -> HostState:
        return HostState()

    def lock(self) -> bool:
        return False

    def set_curtain(self, on: bool) -> list[str]:
        return []
