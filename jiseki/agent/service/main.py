"""`jiseki agent service`: the agent as the Windows service "jiseki-agent" (LocalSystem, automatic).

At start the service
1. restricts %ProgramData%\\jiseki (key, configuration, logs) to SYSTEM and Administrators,
2. logs to the Event Log (source "jiseki") and to %ProgramData%\\jiseki\\logs\\service.log (rotated),
3. sets its own failure actions (restart after 5 s, 10 s, 60 s: the MSI cannot),
4. enrolls with the token the installer left in the registry (`handoff.py`), or waits for one,
5. keeps the control channel to the gateway; each offered session is served by a worker process in
   the console session (`supervisor.py`), which follows logon, logoff, fast user switching and the
   Winlogon desktop. Ctrl+Alt+Del from the viewer is SendSAS, called here (only a service may).

Privileges used, and why: LocalSystem's SeTcbPrivilege (SetTokenInformation TokenSessionId, to
start the worker in the console session), SeAssignPrimaryTokenPrivilege and SeIncreaseQuotaPrivilege
(CreateProcessAsUserW). Being LocalSystem also lets the worker open the Winlogon desktop (lock
screen, UAC prompt) and lets the service call SendSAS; nothing else is used.

`--console` runs the same in the foreground (for troubleshooting); `--cleanup` is the uninstaller's
last step: it deletes %ProgramData%\\jiseki and the registry key.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from jiseki.config import AgentConfig, load_config, program_data

from ..host.base import HostControl
from ..runner import Agent
from . import handoff
from .supervisor import ServiceHooks, WorkerSessions

log = logging.getLogger("jiseki.agent.service")

SERVICE_MODE = "windows-service"
WAIT_RECHECK = 60.0  # seconds between looks at the registry while there is nothing to enroll with
ENROLL_RETRY = (10.0, 30.0, 60.0, 300.0)
LOG_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5


@dataclass(frozen=True)
class ServicePaths:
    root: Path

    @classmethod
    def default(cls) -> ServicePaths:
        return cls(program_data() / "jiseki")

    @property
    def cert_dir(self) -> Path:
        return self.root / "agent"

    @property
    def config(self) -> Path:
        return self.root / "agent.toml"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def config_file(self, given: Path | None) -> Path | None:
        """The configuration file the service reads: the one given, else agent.toml if an
        administrator wrote one (the worker is started with the same)."""
        return given if given is not None or not self.config.is_file() else self.config


def enrolled(cert_dir: Path) -> bool:
    return all((cert_dir / name).is_file() for name in ("ca.crt", "agent.crt", "agent.key"))


def setup_logging(paths: ServicePaths, name: str, verbose: bool = False, events: logging.Handler | None = None) -> None:
    """The rotating file (one per process: Windows cannot rename a file another process writes) and
    the Event Log (`events`: warnings and errors, plus the service's own milestones)."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    file = logging.handlers.RotatingFileHandler(
        paths.logs / f"{name}.log", maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"))
    root.addHandler(file)
    if events is None:
        return
    events.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    events.addFilter(lambda r: r.levelno >= logging.WARNING or r.name == log.name)
    root.addHandler(events)


def agent_config(paths: ServicePaths, handed: handoff.Handed, config_path: Path | None = None) -> AgentConfig:
    """The [agent] settings of the configuration file (`ServicePaths.config_file`); the key in the
    service's folder; the gateway and the proxy from the registry."""
    config = load_config(paths.config_file(config_path)).agent
    config = replace(config, cert_dir=paths.cert_dir)
    if handed.gateway_url:
        config = replace(config, gateway_url=handed.gateway_url)
    if handed.proxy_url:
        config = replace(config, proxy_url=handed.proxy_url)
    return config


async def enroll_when_handed(
    paths: ServicePaths, source: handoff.Handoff, stopped: asyncio.Event, config_path: Path | None = None
) -> bool:
    """Enroll with the installer's token if there is one; wait while the PC cannot run. False: stopped."""
    from ..enroll import EnrollFailed, enroll

    said: str | None = None
    retries = iter(ENROLL_RETRY)
    while not stopped.is_set():
        handed = source.read()
        step = handoff.next_step(handed, enrolled(paths.cert_dir))
        if step is handoff.Step.RUN:
            return True
        if step is handoff.Step.WAIT:
            why = handoff.why_waiting(handed)
            if why != said:
                log.error("%s", why)
                said = why
            delay = WAIT_RECHECK
        else:
            try:
                proxy = agent_config(paths, handed, config_path).proxy_url
                host_id = await asyncio.to_thread(enroll, handed.gateway_url, handed.token, paths.cert_dir, proxy)
            except EnrollFailed as exc:
                if exc.retry:
                    delay = next(retries, ENROLL_RETRY[-1])
                    log.warning("enrollment: %s (trying again in %.0f s)", exc, delay)
                else:
                    log.error("enrollment refused: %s; the token was removed: install again with a new one", exc)
                    source.clear_token()
                    delay = 0.0
            else:
                source.clear_token()
                log.info("enrolled as %s with %s", host_id, handed.gateway_url)
                return True
        try:
            await asyncio.wait_for(stopped.wait(), delay)
        except TimeoutError:
            pass
    return False


class Hooks(ServiceHooks, Protocol):
    """The platform's side of the service (`service/windows.py`): the supervisor's calls, and the
    agent they report to."""

    agent: Agent | None
    worker_argv: list[str]


def worker_argv(config_path: Path | None, paths: ServicePaths, config: AgentConfig, verbose: bool = False) -> list[str]:
    """How this interpreter starts `jiseki agent worker` with the service's own settings (the
    configuration file it read, and what the registry added to it)."""
    config_path = paths.config_file(config_path)
    argv = [sys.executable, "-m", "jiseki"]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    if verbose:
        argv.append("--verbose")
    argv += ["agent", "worker", "--data-dir", str(paths.root), "--gateway-url", config.gateway_url]
    return [*argv, "--proxy-url", config.proxy_url] if config.proxy_url else argv


class AgentService:
    def __init__(
        self,
        paths: ServicePaths,
        source: handoff.Handoff,
        hooks: Hooks,
        host: HostControl,
        config_path: Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.paths = paths
        self.config_path = config_path
        self.verbose = verbose
        self.source = source
        self.hooks = hooks
        self.host = host
        self.sessions = WorkerSessions(hooks)
        self.stopped = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def request_stop(self) -> None:
        """From any thread (the SCM's handler)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.stopped.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not await enroll_when_handed(self.paths, self.source, self.stopped, self.config_path):
            return
        config = agent_config(self.paths, self.source.read(), self.config_path)
        self.hooks.worker_argv = worker_argv(self.config_path, self.paths, config, self.verbose)

        def unused() -> None:
            raise RuntimeError("the service captures and injects only in its worker")

        agent = Agent(
            config,
            unused,  # type: ignore[arg-type]
            unused,  # type: ignore[arg-type]
            host=self.host,
            run_offer=self.sessions.run_offer,
            service=SERVICE_MODE,
        )
        self.hooks.agent = agent
        self.sessions.start()
        via = f" through the proxy {config.proxy_url}" if config.proxy_url else ""
        log.info("jiseki agent service started; gateway %s%s", config.gateway_url, via)
        work = asyncio.create_task(agent.run_forever())
        stop = asyncio.create_task(self.stopped.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        await self.sessions.shutdown()
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        stop.cancel()
        log.info("jiseki agent service stopped")


def cleanup(paths: ServicePaths) -> int:
    """The uninstaller's last step: the key, the configuration and the logs (`windows.cleanup`
    removes the registry key too)."""
    logging.shutdown()
    shutil.rmtree(paths.root, ignore_errors=True)
    return 0 if not paths.root.exists() else 1
