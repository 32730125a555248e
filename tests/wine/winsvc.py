"""Driving Windows' own tools under Wine (sc.exe, reg.exe, msiexec) from the tests.

Wine's helper processes (services.exe, winedevice.exe) inherit and keep open whatever pipes their
first client had: every command's output goes to a file, never a pipe, or the test would wait forever."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from .harness import WinePython


def wine_cmd(wine: WinePython, *args: str, timeout: float = 120) -> tuple[int, str]:
    """Run `wine ARGS...`; its exit code and its output (CR removed)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run(
            ["wine", *args], env=wine.env(), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
        out.seek(0)
        return proc.returncode, out.read().decode(errors="replace").replace("\r", "")


def service_state(wine: WinePython, name: str) -> str:
    """RUNNING, STOPPED, ... or "" when the service does not exist."""
    _code, text = wine_cmd(wine, "sc", "query", name)
    for line in text.splitlines():
        if "STATE" in line:
            return line.split()[-1]
    return ""


def wait_service(wine: WinePython, name: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while service_state(wine, name) != state:
        assert time.monotonic() < deadline, f"{name} did not reach {state} (now {service_state(wine, name)!r})"
        time.sleep(0.5)


def reg_query(wine: WinePython, key: str, value: str) -> str | None:
    """A registry value's data as reg.exe prints it, or None when it is not there."""
    code, text = wine_cmd(wine, "reg", "query", key, "/v", value)
    if code != 0:
        return None
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0] == value:
            return parts[2] if len(parts) == 3 else ""
    return None


def remove_service(wine: WinePython, name: str) -> None:
    if service_state(wine, name):
        wine_cmd(wine, "sc", "stop", name)
        deadline = time.monotonic() + 30
        while service_state(wine, name) not in ("STOPPED", "") and time.monotonic() < deadline:
            time.sleep(0.5)
        wine_cmd(wine, "sc", "delete", name)


def drive_c(wine: WinePython) -> Path:
    return Path(wine.prefix) / "drive_c"
