"""Host privacy on X11.

Lock: the configured command (`agent.lock_command`), else the first available of the usual desktop
lockers. Curtain: what X11 allows — the local monitor is switched off with DPMS and the physical
keyboards and mice are disabled with `xinput` (XTEST, through which remote input arrives, stays on).
X11 has no way to show the local monitor something other than what is captured, so the curtain
relies on DPMS staying off; a real "privacy screen" needs the Windows backend.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

Runner = Callable[[Sequence[str], dict[str, str]], subprocess.CompletedProcess[str]]

# Tried in order when no lock command is configured.
_LOCKERS: tuple[tuple[str, ...], ...] = (
    ("loginctl", "lock-session"),
    ("xdg-screensaver", "lock"),
    ("xscreensaver-command", "-lock"),
    ("dm-tool", "lock"),
    ("i3lock",),
)


def _run(argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=10, check=False)


class X11HostControl:
    def __init__(
        self,
        display: str,
        lock_command: Sequence[str] = (),
        runner: Runner = _run,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        self.env = {**os.environ, "DISPLAY": display}
        self.lock_command = tuple(lock_command)
        self.run = runner
        self.which = which
        self._disabled: list[str] = []

    def _locker(self) -> tuple[str, ...] | None:
        if self.lock_command:
            return self.lock_command
        for candidate in _LOCKERS:
            if candidate[0] == "loginctl" and not self.env.get("XDG_SESSION_ID"):
                continue
            if self.which(candidate[0]):
                return candidate
        return None

    def lock(self) -> bool:
        command = self._locker()
        if command is None:
            log.warning("no screen locker found: set agent.lock_command")
            return False
        result = self.run(list(command), self.env)  # lockers fork and return once the lock is up
        if result.returncode != 0:
            log.warning("lock command %s failed: %s", command[0], result.stderr.strip()[:200])
            return False
        log.info("desktop locked with %s", command[0])
        return True

    def _physical_inputs(self) -> list[str]:
        if not self.which("xinput"):
            return []
        result = self.run(["xinput", "list", "--short"], self.env)
        ids = []
        for line in result.stdout.splitlines():
            if ("slave  keyboard" in line or "slave  pointer" in line) and "XTEST" not in line:
                for part in line.split():
                    if part.startswith("id="):
                        ids.append(part[3:])
        return ids

    def set_curtain(self, on: bool) -> list[str]:
        done = []
        if on:
            if self.which("xset") and self.run(["xset", "dpms", "force", "off"], self.env).returncode == 0:
                done.append("monitor_off")
            for device in self._physical_inputs():
                if self.run(["xinput", "disable", device], self.env).returncode == 0:
                    self._disabled.append(device)
            if self._disabled:
                done.append("input_blocked")
        else:
            for device in self._disabled:
                self.run(["xinput", "enable", device], self.env)
            self._disabled.clear()
            if self.which("xset"):
                self.run(["xset", "dpms", "force", "on"], self.env)
            done.append("released")
        return done
