"""The host-control interface every platform backend implements."""

from __future__ import annotations

from typing import Protocol


class HostControl(Protocol):
    def lock(self) -> bool:
        """Lock the desktop session (the owner's password is needed at the desk). True if done."""
        ...

    def set_curtain(self, on: bool) -> list[str]:
        """Blank the local monitor and block local input while a remote session is live.
        Returns what could be done, as short keys for the session log (platforms differ)."""
        ...


class NoHostControl:
    """For platforms or tests without host privacy: does nothing and says so."""

    def lock(self) -> bool:
        return False

    def set_curtain(self, on: bool) -> list[str]:
        return []
