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
from pathlib import Path
from types import FrameType
from typing import Any

from jiseki.config import AgentConfig, Config, GatewayConfig

from .desktop import VirtualDesktop, missing_programs
from .processes import ProcessGroup
from .provision import DEMO_HOST_ID, DemoCredentials, provision


def write_config(path: Path, gateway: GatewayConfig, agent: AgentConfig) -> None:
    names = ", ".join(f'"{n}"' for n in gateway.server_names)
    path.write_text(
        "# Written by `jiseki demo`; see docs/configuration.md for every setting.\n"
        "[gateway]\n"
        f'host = "{gateway.host}"\nport = {gateway.port}\ndata_dir = "{gateway.data_dir}"\nserver_names = [{names}]\n\n'
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
        self, data_dir: Path, port: int, *, quiet: bool = False, desktop: VirtualDesktop | None = None,
        lock_command: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.quiet = quiet
        self.gateway = GatewayConfig(host="127.0.0.1", port=port, data_dir=self.data_dir / "gateway")
        self.agent = AgentConfig(
            gateway_url=f"https://127.0.0.1:{port}", cert_dir=self.data_dir / "agent", lock_command=lock_command
        )
        self.config_path = self.data_dir / "jiseki.toml"
        self.credentials: DemoCredentials | None = None
        self.group = ProcessGroup()
        # A desktop passed in is already running (benchmarks); otherwise the stack starts its own.
        self.own_desktop = desktop is None
        self.desktop = desktop or VirtualDesktop(self.group)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

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
        if not wait_for_port("127.0.0.1", self.port, 20.0):
            raise RuntimeError(f"the gateway did not start on port {self.port} (is the port in use?)")
        self.start_agent()

    def start_agent(self) -> None:
        py = [sys.executable, "-m", "jiseki"]
        self.group.start(
            "agent", [*py, "agent", "--config", str(self.config_path)], env=self.desktop.env(), **self._output()
        )

    def stop(self) -> None:
        self.group.stop_all()


def _print_code_when_it_changes(secret: str, last: str) -> str:
    from jiseki.gateway.auth.totp import code_at

    code = code_at(secret, time.time())
    if code != last:
        print(f"  one-time code / ワンタイムパスワード: {code}", flush=True)
    return code


def run_demo(data_dir: Path, port: int, install_certificate: bool = False) -> int:
    missing = missing_programs()
    if missing:
        print(
            f"jiseki demo: missing programs: {', '.join(missing)} (run scripts/demo.sh to install them)",
            file=sys.stderr,
        )
        return 2
    stack = DemoStack(data_dir, port)
    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
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
        if install_certificate:
            from .browser_setup import install

            try:
                setup_lines = install(root_ca, Path(creds.terminal_p12), creds.p12_password, stack.base_url)
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                setup_lines = [f"could not set up the browser: {exc}"]
        print(
            "\n"
            f"  jiseki demo is running: virtual office PC on display {stack.desktop.display}\n\n"
            f"  Open in Chromium:   {stack.base_url}/\n"
            f"  Login ID:           {creds.login_id}\n"
            f"  Password:           {creds.password}\n"
            "  One-time code:      printed below every 30 s (the demo plays the authenticator app)\n\n"
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
            last_code = _print_code_when_it_changes(creds.totp_secret, last_code)
            time.sleep(0.2)
        return 0
    finally:
        stack.stop()
        print("jiseki demo: stopped", file=sys.stderr)
