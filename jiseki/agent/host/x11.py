"""Host privacy on X11.

Lock: the configured command (`agent.lock_command`), else the first available of the usual desktop
lockers. Curtain: what X11 allows — the local monitor is switched off with DPMS and the physical
keyboards and mice are disabled with `xinput` (XTEST, through which remote input arrives, stays on).
X11 has no way to show the local monitor something other than what is captured, so the curtain
relies on DPMS staying off; a real "privacy screen" needs the Windows backend.

State: the signed-in user is the agent's own (it runs inside the desktop session, as its user);
locked is asked of logind (`LockedHint`) or xscreensaver, or seen as a running locker process.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Sequence

import psutil

from .base import HostState

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


# Lockers that hold the screen as long as their process runs.
_LOCKER_PROCESSES = frozenset({"i3lock", "xsecurelock", "slock", "xtrlock", "swaylock", "xlock"})


def _run(argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=10, check=False)


def _own_process_names() -> set[str]:
    uid = os.getuid()
    names = set()
    for proc in psutil.process_iter(["name", "uids"]):
        uids = proc.info.get("uids")
        if uids is not None and uids.real == uid and proc.info.get("name"):
            names.add(proc.info["name"])
    return names


def _own_user() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return None


class X11HostControl:
    def __init__(
        self,
        display: str,
        lock_command: Sequence[str] = (),
        runner: Runner = _run,
        which: Callable[[str], str | None] = shutil.which,
        processes: Callable[[], set[str]] = _own_process_names,
        user: Callable[[], str | None] = _own_user,
    ) -> None:
        self.env = {**os.environ, "DISPLAY": display}
        self.lock_command = tuple(lock_command)
        self.run = runner
        self.which = which
        self.processes = processes
        self.user = user
        self._disabled: list[str] = []

    def state(self) -> HostState:
        return HostState(user=self.user(), locked=self._locked())

    def _locked(self) -> bool | None:
        command = self._locker()
        if command is None:
            return None
        tool = os.path.basename(command[0])
        if tool == "loginctl":
            argv = ["loginctl", "show-session", self.env.get("XDG_SESSION_ID", ""), "-p", "LockedHint", "--value"]
            result = self.run(argv, self.env)
            return result.stdout.strip() == "yes" if result.returncode == 0 else None
        if tool == "xscreensaver-command":
            result = self.run(["xscreensaver-command", "-time"], self.env)
            return " locked " in f" {result.stdout} " if result.returncode == 0 else None
        running = self.processes()
        if tool in _LOCKER_PROCESSES:
            return tool in running
        # xdg-screensaver, dm-tool or another configured command: it may hand the lock to another
        # program, so a running locker says locked, and nothing running says "cannot tell".
        return True if tool in running or running & _LOCKER_PROCESSES else None

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
