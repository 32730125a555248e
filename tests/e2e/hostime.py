"""A real Japanese IME on the virtual office PC: fcitx5 + mozc on Xvfb (building-blocks §11).

mozc refuses to run as root, so the D-Bus session, fcitx5 and the applications that use the IME
run as an unprivileged user (nobody) with their own HOME and XDG_RUNTIME_DIR; Xvfb and the agent
stay root. fcitx5 needs a profile that lists mozc, or only the plain jp keyboard is enabled.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from Xlib import X, display

from jiseki.demo.desktop import XTERM_FONT
from jiseki.demo.processes import ProcessGroup

NOBODY = 65534
REQUIRED = ("fcitx5", "dbus-daemon", "xterm", "xdotool")
PROFILE = """[Groups/0]
Name=Default
Default Layout=jp
DefaultIM=mozc

[Groups/0/Items/0]
Name=keyboard-jp
Layout=

[Groups/0/Items/1]
Name=mozc
Layout=

[GroupOrder]
0=Default
"""


def ime_available() -> bool:
    return all(shutil.which(p) for p in REQUIRED) and os.path.exists("/usr/lib/mozc/mozc_server") and os.geteuid() == 0


class HostIME:
    def __init__(self, display_name: str) -> None:
        self.display = display_name
        # Not under pytest's temporary directory: its parents are private to root.
        self.workdir = Path(tempfile.mkdtemp(prefix="jiseki-ime-"))
        self.home = self.workdir / "home"
        self.run = self.workdir / "run"
        self.group = ProcessGroup()
        self.fcitx: subprocess.Popen[bytes] | None = None

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.run),
            "DISPLAY": self.display,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PATH": "/usr/bin:/bin",
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.run}/bus",
            **extra,
        }

    def start_as_nobody(self, name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        kwargs.setdefault("env", self.env())
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        return self.group.start(
            name, argv, user=NOBODY, group=NOBODY, extra_groups=[], start_new_session=True, cwd=self.workdir, **kwargs
        )

    def start(self, timeout: float = 60.0) -> None:
        (self.home / ".config" / "fcitx5").mkdir(parents=True)
        (self.home / ".config" / "fcitx5" / "profile").write_text(PROFILE)
        self.run.mkdir(mode=0o700)
        for path in [self.workdir, *self.workdir.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        deadline = time.monotonic() + timeout
        self.start_as_nobody(
            "dbus", ["dbus-daemon", "--session", f"--address=unix:path={self.run}/bus", "--nofork", "--nopidfile"]
        )
        while not (self.run / "bus").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the D-Bus session did not start")
            time.sleep(0.05)
        log = open(self.workdir / "fcitx5.log", "wb")  # the process keeps writing to it
        self.fcitx = self.start_as_nobody("fcitx5", ["fcitx5", "--disable=wayland"], stdout=log, stderr=log)
        while not (self.xim_ready() and b"Loaded addon mozc" in (self.workdir / "fcitx5.log").read_bytes()):
            if time.monotonic() > deadline or self.fcitx.poll() is not None:
                raise RuntimeError(f"fcitx5 did not start: {(self.workdir / 'fcitx5.log').read_text(errors='replace')}")
            time.sleep(0.1)
        self.warm_up(deadline)

    def xim_ready(self) -> bool:
        d = display.Display(self.display)
        try:
            prop = d.screen().root.get_full_property(d.intern_atom("XIM_SERVERS"), X.AnyPropertyType)
            return prop is not None and any(d.get_atom_name(a) == "@server=fcitx" for a in prop.value)
        finally:
            d.close()

    def xterm(self, output: Path, geometry: str) -> tuple[subprocess.Popen[bytes], str]:
        """An xterm of nobody's, using the IME, running `cat > output`; returns it and its title."""
        title = f"jiseki-ime-{secrets.token_hex(4)}"
        proc = self.start_as_nobody(
            "xterm-ime",
            ["xterm", *XTERM_FONT, "-title", title, "-geometry", geometry, "-e", "sh", "-c", f"cat > {output}"],
            env=self.env(XMODIFIERS="@im=fcitx"),
        )
        self.xdotool("search", "--sync", "--name", title)
        return proc, title

    def xdotool(self, *args: str) -> str:
        env = {**os.environ, "DISPLAY": self.display}
        done = subprocess.run(["xdotool", *args], env=env, check=True, capture_output=True, text=True, timeout=60)
        return done.stdout

    def warm_up(self, deadline: float) -> None:
        """mozc starts its server on first use and drops keys meanwhile: convert once before the test."""
        output = self.workdir / "warm-up.txt"
        proc, title = self.xterm(output, "40x5+1200+700")
        try:
            while True:
                self.xdotool("search", "--name", title, "windowactivate", "--sync", "windowfocus", "--sync")
                self.xdotool("key", "--delay", "100", "Zenkaku_Hankaku", "a", "Return", "Zenkaku_Hankaku", "Return")
                time.sleep(0.5)
                if output.exists() and "あ" in output.read_text("utf-8", errors="replace"):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError("mozc did not convert during the warm-up")
        finally:
            proc.terminate()
            proc.wait(10)

    def stop(self) -> None:
        if self.fcitx is not None and self.fcitx.poll() is None:
            # fcitx5 started mozc_server in its own process group: end them together.
            os.killpg(self.fcitx.pid, signal.SIGTERM)
        self.group.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)
