"""The one place that picks the platform's backends (as RustDesk's `scrap` and `enigo` do).

Capture, input, clipboard, host control and the selftest's probe window are chosen by
`sys.platform`; everything else in the agent works on the interfaces only. Each platform's modules
are imported here, lazily, so an office PC never loads the other platform's bindings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from jiseki.config import AgentConfig, ConfigError
from jiseki.protocol import Rect
from jiseki.protocol.control import NetInterface
from jiseki.wol import local_interfaces

from .capture.base import Capture
from .clipboard.base import HostClipboard
from .host.base import HostControl
from .input.base import InputSink
from .netif import network_interfaces_for
from .selftest.window import ProbeWindow
from .service.desktop import DesktopApi, OneDesktop


@dataclass(frozen=True)
class Backends:
    platform: str  # "x11" or "windows"
    make_capture: Callable[[], Capture]
    make_input: Callable[[], InputSink]
    host: HostControl
    make_clipboard: Callable[[], HostClipboard]
    make_probe_window: Callable[[Rect], ProbeWindow]
    # The service's worker: the desktops it follows, and input whose Ctrl+Alt+Del goes through a
    # wrapper of the platform's input binding (Windows: the service calls SendSAS).
    make_desktops: Callable[[], DesktopApi]
    make_worker_input: Callable[[Callable[[Any], Any]], InputSink]
    # The selftest's look at the installed service (None: this platform has none).
    service_facts: Callable[[], Mapping[str, object]] | None
    # The PC's IPv4 interfaces with their MACs, for Wake-on-LAN (Linux: psutil; Windows: GetAdaptersAddresses).
    network_interfaces: Callable[[], list[NetInterface]] = local_interfaces


def choose_backends(config: AgentConfig, platform: str = sys.platform) -> Backends:
    if platform == "win32":
        return windows_backends()
    if platform.startswith("linux"):
        return x11_backends(config)
    raise ConfigError(f"the agent runs on Windows and on Linux with X11, not on {platform}")


def x11_backends(config: AgentConfig) -> Backends:
    from .capture.x11 import X11Capture
    from .clipboard.x11 import X11Clipboard
    from .host.x11 import X11HostControl
    from .input.x11 import X11Input

    display = config.display or os.environ.get("DISPLAY")
    if not display:
        raise ConfigError("agent.display: not set and $DISPLAY is empty")
    return Backends(
        platform="x11",
        make_capture=lambda: X11Capture(display),
        make_input=lambda: X11Input(display),
        host=X11HostControl(display, config.lock_command),
        make_clipboard=lambda: X11Clipboard(display),
        make_probe_window=lambda rect: _x11_probe_window(display, rect),
        make_desktops=OneDesktop,
        make_worker_input=lambda _sas: X11Input(display),  # X11 has no secure attention sequence
        service_facts=None,
    )


def _x11_probe_window(display: str, rect: Rect) -> ProbeWindow:
    from .selftest.x11_window import X11ProbeWindow  # the selftest's only: not loaded by `jiseki agent`

    return X11ProbeWindow(display, rect)


def _win32_probe_window(rect: Rect) -> ProbeWindow:
    from .selftest.win32_window import Win32ProbeWindow

    return Win32ProbeWindow(rect)


def windows_backends() -> Backends:
    from .capture.windows import open_windows_capture
    from .clipboard.windows import WindowsClipboard
    from .host.windows import WindowsHostControl, win32_host
    from .input.windows import WindowsInput
    from .service import windows as service
    from .win32.gdi import enable_per_monitor_dpi

    # Physical pixels everywhere: capture and SendInput then agree on every monitor, whatever its scale.
    enable_per_monitor_dpi()
    return Backends(
        platform="windows",
        make_capture=open_windows_capture,
        make_input=WindowsInput,
        host=WindowsHostControl(win32_host()),
        make_clipboard=WindowsClipboard,
        make_probe_window=_win32_probe_window,
        make_desktops=service.desktops,
        make_worker_input=service.input_with_sas,
        service_facts=service.service_facts,
        network_interfaces=network_interfaces_for("win32"),
    )


def service_platform() -> ModuleType:
    """The Windows service's platform side (`service/windows.py`)."""
    from .service import windows

    return windows
