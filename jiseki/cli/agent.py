"""`jiseki agent` (run the agent on the office PC) and `jiseki agent enroll`.

Imports nothing of `jiseki.gateway` or SQLAlchemy, here or in what it runs: an office PC has the
agent's dependencies only (a test runs both commands in a fresh interpreter and checks)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from . import package as package_command
from . import selftest as selftest_command
from . import service as service_command
from .common import CommandError, until_signalled
from .context import Context
from .options import command


def run(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.agent.backends import choose_backends
    from jiseki.agent.runner import Agent

    config = ctx.config.agent
    backends = choose_backends(config)
    agent = Agent(
        config,
        backends.make_capture,
        backends.make_input,
        host=backends.host,
        make_clipboard=backends.make_clipboard,
        interfaces=backends.network_interfaces,
    )
    asyncio.run(until_signalled(agent.run_forever(), agent.close_session))
    return 0


def enroll(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.agent.enroll import EnrollFailed
    from jiseki.agent.enroll import enroll as enroll_with_token

    config = ctx.config.agent
    cert_dir = args.cert_dir or config.cert_dir
    try:
        host_id = enroll_with_token(args.gateway_url, args.token, cert_dir, args.proxy or config.proxy_url)
    except EnrollFailed as exc:
        raise CommandError(f"enrollment failed: {exc}") from None
    print(f"enrolled as {host_id}; certificate in {cert_dir}")
    return 0


def _proxy(text: str) -> str:
    from jiseki.config import proxy_url_problem

    problem = proxy_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {text!r}")
    return text


def register(sub: Any) -> None:
    agent = command(sub, "agent", "the agent on the office PC (runs it when no subcommand is given)", run)
    commands = agent.add_subparsers(dest="agent_command")

    p = command(commands, "enroll", "obtain this PC's certificate with a one-time token", enroll)
    p.add_argument("gateway_url", help="https://gateway.example")
    p.add_argument("--token", required=True)
    p.add_argument("--cert-dir", type=Path, help="where to store the key and certificate (default: agent.cert_dir)")
    p.add_argument(
        "--proxy", type=_proxy, help="http://proxy:8080 allowing CONNECT to the gateway (default: agent.proxy_url)"
    )
    selftest_command.register(commands)
    service_command.register(commands)
    package_command.register(commands)
