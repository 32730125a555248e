"""The Windows side of the service (`main.py` is the rest): the supervisor's Win32 calls, the Event
Log, the folder's ACL, the registry hand-off, the Service Control Manager, and the worker's desktop
following and Ctrl+Alt+Del via the service. Named by `agent/backends.py` only (the layer rule)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from jiseki.config import AgentConfig

from ..host.windows import WindowsHostControl
from ..input.base import InputSink
from ..input.windows import WindowsInput
from ..runner import Agent
from ..win32 import service as scm
from ..win32.acl import SE_REGISTRY_KEY, dacl_sddl, restrict_to_admins
from ..win32.desktop import Win32Desktops
from ..win32.eventlog import EventLogHandler
from ..win32.host import Win32Host
from ..win32.input import Win32Input
from ..win32.sessions import active_console_session, disconnect_session, start_in_session
from . import main as svc
from .handoff import REGISTRY_KEY, RegistryHandoff, allow_service_sas
from .supervisor import SubprocessWorker, Worker

log = logging.getLogger("jiseki.agent.service")


class WindowsServiceHooks:
    """The Windows calls of the supervisor (`supervisor.ServiceHooks`)."""

    def __init__(self) -> None:
        self.worker_argv: list[str] = []  # set once the configuration is known
        self.agent: Agent | None = None

    def start_worker(self, session: int) -> Worker:
        return start_in_session(session, self.worker_argv)

    def console_session(self) -> int | None:
        return active_console_session()

    def report_capture(self, method: str, note: str) -> None:
        if self.agent is not None:
            self.agent.report_capture((method, note or None))

    def check_state(self) -> None:
        if self.agent is not None:
            self.agent.check_state()

    def secure_attention(self) -> None:
        log.info("Ctrl+Alt+Del from the remote session (SendSAS)")
        if not Win32Input().send_sas():
            log.warning("SendSAS is unavailable on this PC")

    def lock_console(self) -> None:
        session = active_console_session()
        if session is None or not disconnect_session(session):
            log.error("could not lock the desk after the remote session")


class ConsoleWorkerHooks(WindowsServiceHooks):
    """`--console` on a PC where the process is not LocalSystem: the worker is a plain child process
    (same session, same desktop) — for troubleshooting, and what the Wine tests drive."""

    def start_worker(self, session: int) -> Worker:
        return SubprocessWorker(self.worker_argv)


def event_log() -> logging.Handler | None:
    try:
        return EventLogHandler()
    except OSError as exc:
        log.warning("no Event Log: %s", exc)
        return None


def prepare(paths: svc.ServicePaths, verbose: bool) -> None:
    """The folder restricted to SYSTEM and Administrators before anything is written in it; logging."""
    paths.root.mkdir(parents=True, exist_ok=True)
    restrict_to_admins(str(paths.root))
    svc.setup_logging(paths, "service", verbose, event_log())
    try:  # the installer's key may hold a one-time token: not for ordinary users' eyes
        restrict_to_admins("MACHINE\\" + REGISTRY_KEY, kind=SE_REGISTRY_KEY)
    except OSError as exc:
        log.warning("cannot restrict the registry key %s: %s", REGISTRY_KEY, exc)
    try:
        sas = allow_service_sas()
    except OSError as exc:
        log.warning("cannot read the Ctrl+Alt+Del policy (SoftwareSASGeneration): %s", exc)
    else:
        if sas == "set":
            log.info("SoftwareSASGeneration set to 1: the remote user's Ctrl+Alt+Del reaches the PC")
        elif sas == "refused":
            log.warning(
                "a policy (SoftwareSASGeneration) forbids services Ctrl+Alt+Del: the viewer's button does nothing"
            )


def make_service(paths: svc.ServicePaths, console: bool, config_path: Path | None, verbose: bool) -> svc.AgentService:
    hooks = ConsoleWorkerHooks() if console else WindowsServiceHooks()
    host = WindowsHostControl(Win32Host(session=active_console_session))
    return svc.AgentService(paths, RegistryHandoff(), hooks, host, config_path, verbose)


def run_under_scm(agent_service: svc.AgentService) -> None:
    """Hand the process to the Service Control Manager until the service stops."""
    try:
        scm.configure_recovery()
    except OSError as exc:
        log.warning("cannot set the restart-on-failure actions: %s", exc)
    scm.ServiceHost(
        scm.SERVICE_NAME,
        lambda: asyncio.run(agent_service.run()),
        agent_service.request_stop,
        agent_service.sessions.notify_session_change,
    ).run()


def cleanup(paths: svc.ServicePaths) -> int:
    try:
        RegistryHandoff().remove()
    except OSError:
        pass
    return svc.cleanup(paths)


def desktops() -> Win32Desktops:
    return Win32Desktops()


def input_with_sas(send_sas: Any) -> InputSink:
    """SendInput, with Ctrl+Alt+Del handed to `send_sas` (the service calls SendSAS)."""
    return WindowsInput(send_sas(Win32Input()))


def service_facts(paths: svc.ServicePaths | None = None) -> dict[str, object]:
    """What the selftest reports of the installed service (each fact on its own: one failing call
    does not hide the others)."""
    paths = paths or svc.ServicePaths.default()
    facts: dict[str, object] = {"name": scm.SERVICE_NAME, "folder": str(paths.root)}
    try:
        facts["state"] = scm.query_service()
    except OSError as exc:
        facts["state"] = f"unknown ({exc})"
    if facts["state"] != "not_installed":
        try:
            facts["restart_delays"] = scm.restart_delays()
        except OSError as exc:
            facts["restart_delays"] = f"unknown ({exc})"
    desktops = Win32Desktops()
    opened = desktops.open_input()
    facts["input_desktop"] = opened[1] if opened else None
    if opened:
        desktops.close(opened[0])
    try:
        facts["folder_acl"] = dacl_sddl(str(paths.root)) if paths.root.exists() else None
    except OSError as exc:
        facts["folder_acl"] = f"unknown ({exc})"
    return facts


def installed_config() -> AgentConfig:
    """The configuration the installed service uses (agent.toml, the gateway and proxy from the
    registry, the key in its folder), for the selftest."""
    return svc.agent_config(svc.ServicePaths.default(), RegistryHandoff().read())
