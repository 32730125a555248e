"""A virtual office PC on X11: Xvfb, openbox, an xterm and a window showing a Japanese/English text."""

from __future__ import annotations

import os
import shutil
import time
from importlib import resources
from pathlib import Path

from .processes import ProcessGroup

SAMPLE_TEXT = resources.files(__package__).joinpath("sample.txt")
REQUIRED = ("Xvfb", "openbox", "xterm")
XTERM_FONT = ("-fa", "DejaVu Sans Mono", "-fd", "Noto Sans Mono CJK JP", "-fs", "11")


def missing_programs() -> list[str]:
    return [p for p in REQUIRED if shutil.which(p) is None]


class VirtualDesktop:
    """Starts the X server and the desktop's windows inside `group`; `display` is e.g. ':12'."""

    def __init__(self, group: ProcessGroup, width: int = 1920, height: int = 1080) -> None:
        self.group = group
        self.width = width
        self.height = height
        self.display = ""

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"DISPLAY": self.display, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
        return env

    def start_x(self, timeout: float = 10.0) -> str:
        read_fd, write_fd = os.pipe()
        self.group.start(
            "Xvfb",
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{self.width}x{self.height}x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            pass_fds=(write_fd,),
            stderr=open(os.devnull, "wb"),
        )
        os.close(write_fd)
        deadline = time.monotonic() + timeout
        data = b""
        with os.fdopen(read_fd, "rb") as fh:
            while not data.endswith(b"\n") and time.monotonic() < deadline:
                chunk = fh.read(1)
                if not chunk:
                    break
                data += chunk
        if not data.strip():
            raise RuntimeError("Xvfb did not start")
        self.display = f":{int(data.strip())}"
        return self.display

    def start_desktop(self) -> None:
        env = self.env()
        quiet = {"stdout": open(os.devnull, "wb"), "stderr": open(os.devnull, "wb")}
        self.group.start("openbox", ["openbox"], env=env, **quiet)
        time.sleep(0.5)  # let the window manager take the screen before windows map
        self.group.start(
            "xterm", ["xterm", *XTERM_FONT, "-geometry", "96x30+40+40", "-title", "Terminal"], env=env, **quiet
        )
        with resources.as_file(SAMPLE_TEXT) as sample:
            path = Path(sample)
            self.group.start(
                "viewer-text",
                [
                    "xterm",
                    *XTERM_FONT,
                    "-geometry",
                    "80x32+1000+120",
                    "-title",
                    "お知らせ (sample.txt)",
                    "-e",
                    "less",
                    "-R",
                    str(path),
                ],
                env=env,
                **quiet,
            )
