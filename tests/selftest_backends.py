"""A stand-in for `jiseki.agent.backends` (the lead's module, merged separately) so the selftest's
tests run on this branch: the X11 part of `choose_backends`, with the same names and fields.
`install()` puts it in place only when the real module is missing; once merged, the real one runs."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass

from jiseki.agent.capture.base import Capture
from jiseki.agent.clipboard.base import HostClipboard
from jiseki.agent.host.base import HostControl
from jiseki.agent.input.base import InputSink
from jiseki.agent.selftest.window import ProbeWindow
from jiseki.config import AgentConfig, ConfigError
from jiseki.protocol import Rect


@dataclass(frozen=True)
class Backends:
    platform: str
    make_capture: Callable[[], Capture]
    make_input: Callable[[], InputSink]
    host: HostControl
    make_clipboard: Callable[[], HostClipboard]
    make_probe_window: Callable[[Rect], ProbeWindow]


def choose_backends(config: AgentConfig) -> Backends:
    from jiseki.agent.capture.x11 import X11Capture
    from jiseki.agent.clipboard.x11 import X11Clipboard
    from jiseki.agent.host.x11 import X11HostControl
    from jiseki.agent.input.x11 import X11Input
    from jiseki.agent.selftest.x11_window import X11ProbeWindow

    display = config.display or os.environ.get("DISPLAY")
    if not display:
        raise ConfigError("agent.display: not set and $DISPLAY is empty")
    return Backends(
        platform="x11",
        make_capture=lambda: X11Capture(display),
        make_input=lambda: X11Input(display),
        host=X11HostControl(display, config.lock_command),
        make_clipboard=lambda: X11Clipboard(display),
        make_probe_window=lambda rect: X11ProbeWindow(display, rect),
    )


def install() -> None:
    if importlib.util.find_spec("jiseki.agent.backends") is not None:
        return
    module = types.ModuleType("jiseki.agent.backends")
    module.Backends = Backends  # type: ignore[attr-defined]
    module.choose_backends = choose_backends  # type: ignore[attr-defined]
    sys.modules["jiseki.agent.backends"] = module


if __name__ == "__main__":  # `python -m tests.selftest_backends selftest ...`: `jiseki agent ...` with the stand-in
    install()
    from jiseki.cli import main

    sys.exit(main(["agent", *sys.argv[1:]]))
