"""Run the whole product on one machine and stop every process on Ctrl+C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from jiseki.config import AgentConfig, Config, GatewayConfig

from . import addresses
from .browser_setup import BrowserSetup
from .desktop import VirtualDesktop, missing_programs
from .processes import ProcessGroup
from .provision import DEMO_HOST_ID, DemoCredentials, provision


def write_config(path: Path, gateway: GatewayConfig, agent: AgentConfig) -> None:
    names = ", ".join(f'"{n}"' for n in gateway.server_names)
    path.write_text(
        "# Written by `jiseki demo`; see docs/configuration.md for every setting.\n"
        "[gateway]\n"
        f'host = "{gateway.host}"\nport = {gateway.port}\ndata_dir = "{gateway.data_dir}"\nserver_names = [{names}]\n'
        f'public_url = "{gateway.public_url}"\n'
        "drain_seconds = 2\n\n"
        "[agent]\n"
        f'gateway_url = "{agent.gateway_url}"\ncert_dir = "{agent.cert_dir}"\n'
        + (f"lock_command = {json.dumps(list(agent.lock_command))}\n" if agent.lock_command else ""),
        "utf-8",
    )


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class DemoStack:
    """Virtual desktop + gateway + agent as child processes; used by `jiseki demo` and the tests."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        listen: str = addresses.LOOPBACK,
        names: tuple[str, ...] = (),
        quiet: bool = False,
        desktop: VirtualDesktop | None = None,
        lock_command: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.quiet = quiet
        self.listen = listen
        # The agent (and a browser on this machine) reach the gateway here; loopback when listening everywhere.
        self.connect_host = addresses.connect_host(listen)
        self.gateway = GatewayConfig(
            host=listen,
            port=port,
            data_dir=self.data_dir / "gateway",
            server_names=addresses.server_names(listen, names),
            public_url=addresses.url(self.connect_host, port),
        )
        self.agent = AgentConfig(
            gateway_url=addresses.url(self.connect_host, port),
            cert_dir=self.data_dir / "agent",
            lock_command=lock_command,
        )
        self.config_path = self.data_dir / "jiseki.toml"
        self.credentials: DemoCredentials | None = None
        self.group = ProcessGroup()
        # A desktop passed in is already running (benchmarks); otherwise the stack starts its own.
        self.own_desktop = desktop is None
        self.desktop = desktop or VirtualDesktop(self.group)

    @property
    def base_url(self) -> str:
        return addresses.url(self.connect_host, self.port)

    @property
    def remote_urls(self) -> list[str]:
        """What other machines may open: empty when the demo listens on loopback only."""
        if addresses.is_loopback(self.listen):
            return []
        names = dict.fromkeys([self.listen, *self.gateway.server_names])
        reachable = [n for n in names if n not in addresses.WILDCARDS and not addresses.is_loopback(n)]
        return [addresses.url(n, self.port) for n in reachable]

    @property
    def viewer_url(self) -> str:
        return f"{self.base_url}/view/{DEMO_HOST_ID}"

    def _output(self) -> dict[str, Any]:
        if not self.quiet:
            return {}
        log = open(self.data_dir / "processes.log", "ab")
        return {"stdout": log, "stderr": log}

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_config(self.config_path, self.gateway, self.agent)
        # In a thread of its own: the caller may already run an event loop (tests, Playwright).
        with ThreadPoolExecutor(1) as pool:
            config = Config(gateway=self.gateway, agent=self.agent)
            self.credentials = pool.submit(asyncio.run, provision(config, self.data_dir)).result()
        if self.own_desktop:
            self.desktop.start_x()
            self.desktop.start_desktop()
        py = [sys.executable, "-m", "jiseki"]
        self.group.start(
            "gateway",
            [*py, "gateway", "--config", str(self.config_path)],
            env=dict(os.environ),
            **self._output(),
        )
        if not wait_for_port(self.connect_host, self.port, 20.0):
            raise RuntimeError(
                f"the gateway did not start on {self.listen} port {self.port} (is the port in use, the address"
                " one of this machine's?)"
            )
        self.start_agent()

    def start_agent(self) -> None:
        py = [sys.executable, "-m", "jiseki"]
        self.group.start(
            "agent", [*py, "agent", "--config", str(self.config_path)], env=self.desktop.env(), **self._output()
        )

    def stop(self) -> None:
        self.group.stop_all()


def _print_code_when_it_changes(creds: DemoCredentials, last: str) -> str:
    from jiseki.gateway.auth.totp import code_at

    now = time.time()
    code = code_at(creds.totp_secret, now)
    if code != last:
        admin = (
            f"   ({creds.admin_login_id}: {code_at(creds.admin_totp_secret, now)})" if creds.admin_totp_secret else ""
        )
        print(f"  one-time code / ワンタイムパスワード: {code}{admin}", flush=True)
    return code


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    port: int
    listen: str = addresses.LOOPBACK
    names: tuple[str, ...] = ()
    install_certificate: bool = False
    browser_policy_dir: Path | None = None  # None: Debian Chromium's managed policy directory


def _exposure_warning(listen: str, data_dir: Path, port: int) -> str:
    return (
        f"jiseki demo: WARNING: listening on {listen}: other machines can reach this demo. Its accounts and"
        f" passwords are printed here and its CA, terminal certificate and credentials lie unencrypted in"
        f" {data_dir}. Use it on a trusted network only, and stop it after trying. To reach a demo on a server"
        f" from your own PC, keep the default 127.0.0.1 and forward the port instead:"
        f" ssh -L {port}:127.0.0.1:{port} SERVER"
    )


def _urls_block(stack: DemoStack) -> str:
    remote = stack.remote_urls
    if not remote:
        return f"  Open in Chromium:   {stack.base_url}/\n"
    lines = f"  Open in Chromium:   {stack.base_url}/  (on this machine)\n"
    return lines + "".join(f"                      {u}/  (from other machines)\n" for u in remote)


def _left_in_place(stack: DemoStack, browser: BrowserSetup | None) -> str:
    text = (
        f"jiseki demo: left in place: {stack.data_dir} (demo CA, database, accounts, terminal certificate;"
        " the next run reuses it, delete it to start afresh)"
    )
    if browser is not None and browser.created_db:
        text += f" and the NSS database {browser.nssdb} it created (without the demo's certificates)"
    return text


def run_demo(options: DemoOptions) -> int:
    missing = missing_programs()
    if missing:
        print(
            f"jiseki demo: missing programs: {', '.join(missing)} (run scripts/demo.sh to install them)",
            file=sys.stderr,
        )
        return 2
    stack = DemoStack(options.data_dir, options.port, listen=options.listen, names=options.names)
    if not addresses.is_loopback(options.listen):
        print(_exposure_warning(options.listen, stack.data_dir, options.port), file=sys.stderr, flush=True)
    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    browser: BrowserSetup | None = None
    try:
        try:
            stack.start()
        except RuntimeError as exc:
            print(f"jiseki demo: {exc}", file=sys.stderr)
            return 1
        creds = stack.credentials
        assert creds is not None
        root_ca = stack.gateway.data_dir / "pki" / "root-ca.crt"
        setup_lines: list[str] = []
        if options.install_certificate:
            browser = BrowserSetup(policy_dir=options.browser_policy_dir)
            origins = [stack.base_url, *stack.remote_urls]
            try:
                setup_lines = browser.install(root_ca, Path(creds.terminal_p12), creds.p12_password, origins)
                setup_lines.append("the demo takes these away again when it stops")
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                setup_lines = [f"could not set up the browser: {exc}"]
        print(
            "\n"
            f"  jiseki demo is running: virtual office PC on display {stack.desktop.display}\n\n"
            + _urls_block(stack)
            + f"  Login ID:           {creds.login_id}\n"
            f"  Password:           {creds.password}\n"
            "  One-time code:      printed below every 30 s (the demo plays the authenticator app)\n"
            f"  Admin console:      {stack.base_url}/admin  (login ID {creds.admin_login_id},"
            f" password {creds.admin_password})\n\n"
            "  The browser must present the demo terminal's certificate (a home PC without one is refused):\n"
            f"    {creds.terminal_p12}  (import password {creds.p12_password})\n"
            f"    CA to trust: {root_ca}\n"
            + "".join(f"    - {line}\n" for line in setup_lines)
            + "  Press Ctrl+C to stop everything.\n",
            flush=True,
        )
        last_code = ""
        while not stopping:
            exited = stack.group.first_exited()
            if exited is not None:
                print(f"jiseki demo: {exited[0]} exited with status {exited[1]}; stopping", file=sys.stderr)
                return 1
            last_code = _print_code_when_it_changes(creds, last_code)
            time.sleep(0.2)
        return 0
    finally:
        stack.stop()
        print("jiseki demo: stopped", file=sys.stderr)
        if browser is not None:
            for line in browser.undo():
                print(f"jiseki demo: {line}", file=sys.stderr)
        print(_left_in_place(stack, browser), file=sys.stderr, flush=True)
