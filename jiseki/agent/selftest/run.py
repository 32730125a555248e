"""Runs the selftest's checks in order with the platform's backends, each result handed on as soon as
it is known (the report prints it while the next check runs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Protocol

from jiseki.config import AgentConfig
from jiseki.i18n import N_
from jiseki.protocol import Rect

from ..capture.base import Capture
from ..clipboard.base import HostClipboard
from ..host.base import HostControl
from ..input.base import InputSink
from .capture_checks import check_capture, check_picture
from .checks import CHECK_ORDER, CheckResult, Note, Status, skipped
from .desk import Desk, describe, open_desk
from .gateway_check import check_gateway
from .host_checks import check_clipboard, check_curtain, check_lock
from .input_check import check_input
from .service_check import check_service
from .window import ProbeWindow

DESK_CHECKS = frozenset({"capture", "picture", "input", "curtain"})  # those that draw on the desktop


class SelftestBackends(Protocol):
    """What the selftest uses of `jiseki.agent.backends.Backends` (read-only, as that dataclass is frozen)."""

    @property
    def platform(self) -> str: ...
    @property
    def make_capture(self) -> Callable[[], Capture]: ...
    @property
    def make_input(self) -> Callable[[], InputSink]: ...
    @property
    def host(self) -> HostControl: ...
    @property
    def make_clipboard(self) -> Callable[[], HostClipboard]: ...
    @property
    def make_probe_window(self) -> Callable[[Rect], ProbeWindow]: ...
    @property
    def service_facts(self) -> Callable[[], Mapping[str, object]] | None: ...


@dataclass(frozen=True)
class SelftestOptions:
    skip: frozenset[str] = field(default_factory=frozenset)
    lock: bool = False  # really lock the PC (the IT staff must be at the desk to unlock it)
    seconds: float = 2.0  # how long the capture's frame rate is measured


def _one(
    name: str, backends: SelftestBackends, config: AgentConfig, desk: Desk, options: SelftestOptions
) -> CheckResult:
    if name == "capture":
        return check_capture(desk, options.seconds)
    if name == "picture":
        return check_picture(desk)
    if name == "input":
        return check_input(desk, backends.make_input)
    if name == "clipboard":
        return check_clipboard(backends.make_clipboard)
    if name == "curtain":
        return check_curtain(desk, backends.host, backends.platform)
    if name == "gateway":
        return check_gateway(config)
    if name == "service":
        return check_service(backends.service_facts)
    if name == "lock":
        if not options.lock:
            return skipped("lock", Note(N_("locks the PC: run `jiseki agent selftest --lock` at the desk")))
        return check_lock(backends.host)
    raise ValueError(f"unknown check {name!r}")


def run_selftest(
    backends: SelftestBackends,
    config: AgentConfig,
    options: SelftestOptions,
    progress: Callable[[CheckResult], None] = lambda _r: None,
) -> list[CheckResult]:
    results: list[CheckResult] = []
    with ExitStack() as stack:  # closes the probe window and the capture, also on Ctrl+C
        no_desk = Desk(None, "not needed", None, "not needed")
        needed = DESK_CHECKS - options.skip
        desk = open_desk(backends.make_capture, backends.make_probe_window, stack) if needed else no_desk
        for name in CHECK_ORDER:
            if name in options.skip:
                result = skipped(name, Note(N_("skipped (--skip {name})"), {"name": name}))
            else:
                try:
                    result = _one(name, backends, config, desk, options)
                except Exception as exc:  # one broken backend must not hide the other checks' findings
                    error = Note(N_("error: {error}"), {"error": describe(exc)})
                    result = CheckResult(name, Status.FAIL, error)
            results.append(result)
            progress(result)
    return results
