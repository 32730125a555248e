"""Windows CPython under Wine, driven from pytest (scripts/wine-python.sh builds and caches it).

A Windows-side script gets the path of a JSON result file in $JISEKI_RESULT (python.exe needs a
pseudo-terminal as stdout, so results do not travel on stdout) and writes what it observed there;
`WinePython.run` returns that object, or raises with the script's terminal output when it wrote none.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "wine-python.sh"
WIN_SCRIPTS = Path(__file__).resolve().parent / "win"


def windows_path(path: Path | str) -> str:
    """How a Windows process under Wine names a Linux path (drive Z: is the root)."""
    return "Z:" + str(path).replace("/", "\\")


class WineScriptFailed(AssertionError):
    pass


class WinePython:
    def __init__(self, display: str) -> None:
        self.display = display
        out = subprocess.run(["bash", str(SCRIPT), "env"], capture_output=True, text=True, check=True, timeout=60)
        self.env_vars = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        self.prefix = self.env_vars["WINEPREFIX"]
        self._server: subprocess.Popen[bytes] | None = None

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **self.env_vars, "DISPLAY": self.display, "JISEKI_PATH": windows_path(WIN_SCRIPTS)}
        env.update(extra or {})
        return env

    def start_server(self) -> None:
        """A persistent wineserver: each script then starts in well under a second (and a service
        or a second process is not killed 6 s after the last one ends)."""
        self._server = subprocess.Popen(["wineserver", "-f", "-p"], env=self.env(), stdout=subprocess.DEVNULL)

    def stop_server(self) -> None:
        subprocess.run(["wineserver", "-k"], env=self.env(), check=False, timeout=30)
        if self._server is not None:
            try:
                self._server.wait(10)
            except subprocess.TimeoutExpired:
                self._server.kill()

    @staticmethod
    def script_path(script: Path | str) -> Path:
        """A bare name is a script of tests/wine/win/."""
        return WIN_SCRIPTS / script if isinstance(script, str) and "/" not in script else Path(script)

    def argv(self, script: Path | str, args: Sequence[str] = ()) -> list[str]:
        return ["bash", str(SCRIPT), "run", windows_path(self.script_path(script)), *args]

    def run_module(
        self, args: Sequence[str], timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`python.exe -m ...` to its end; its terminal output (escape codes and all) in stdout."""
        proc = subprocess.run(
            ["bash", str(SCRIPT), "run", "-m", *args],
            env=self.env(env),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"), "")

    def run(
        self, script: Path | str, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Run a script to its end and return what it wrote to $JISEKI_RESULT."""
        with tempfile.TemporaryDirectory(prefix="jiseki-wine-") as tmp:
            result = Path(tmp) / "result.json"
            for _attempt in range(2):
                proc = subprocess.run(
                    self.argv(script, args),
                    env=self.env({**(env or {}), "JISEKI_RESULT": windows_path(result)}),
                    capture_output=True,
                    timeout=timeout,
                    check=False,
                )
                # A script that ran writes its result (common.main catches everything) or at least a
                # traceback; silence and nothing written means Wine did not start it (seen once in a CI
                # run, exit 1 and no output; not reproduced in isolation): start it once more.
                if result.exists() or proc.stdout.strip():
                    break
            if not result.exists():
                text = proc.stdout.decode(errors="replace")[-4000:]
                raise WineScriptFailed(f"{script} wrote no result (exit {proc.returncode}):\n{text}")
            data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
            return data

    def popen(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, log: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """A long-running Windows process (the agent); its terminal output goes to `log`."""
        out = open(log, "wb") if log is not None else subprocess.DEVNULL
        return subprocess.Popen(
            ["bash", str(SCRIPT), "run", *args],
            env=self.env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """End a process started by `popen` and everything it started (script, wine, python.exe)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
