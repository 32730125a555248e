"""The `jiseki` command: gateway, agent, demo and the admin helpers they need."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from .config import ConfigError, load_config


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _cmd_gateway(args: argparse.Namespace) -> int:
    from .gateway.server import serve

    config = load_config(args.config)
    asyncio.run(serve(config.gateway))
    return 0


def _cmd_host_add(args: argparse.Namespace) -> int:
    from .gateway.hosts import register_host
    from .gateway.server import open_state

    config = load_config(args.config)

    async def run() -> None:
        state = await open_state(config.gateway)
        try:
            await register_host(state.ca, state.broker.db, args.host_id, args.name or args.host_id, args.out)
        finally:
            await state.engine.dispose()

    asyncio.run(run())
    print(f"agent certificate for {args.host_id} written to {args.out}")
    return 0


def _cmd_agent(args: argparse.Namespace) -> int:
    from .agent.capture.x11 import X11Capture
    from .agent.input.x11 import X11Input
    from .agent.runner import Agent

    config = load_config(args.config).agent
    display = config.display or os.environ.get("DISPLAY")
    if not display:
        raise ConfigError("agent.display: not set and $DISPLAY is empty")
    agent = Agent(config, lambda: X11Capture(display), lambda: X11Input(display))
    try:
        asyncio.run(agent.run_forever())
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo.run import run_demo

    return run_demo(data_dir=args.data_dir, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiseki", description="Operate your office desk PC from a registered terminal."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    gw = sub.add_parser("gateway", help="run a gateway node")
    gw.add_argument("--config", type=Path, help="TOML configuration file")
    gw.set_defaults(func=_cmd_gateway)

    host = sub.add_parser("host", help="manage office PCs")
    host_sub = host.add_subparsers(dest="host_command", required=True)
    add = host_sub.add_parser("add", help="register an office PC and write its agent certificate")
    add.add_argument("host_id", help="identifier, e.g. pc-0001")
    add.add_argument("--name", help="display name")
    add.add_argument("--out", type=Path, required=True, help="directory for agent.key, agent.crt and ca.crt")
    add.add_argument("--config", type=Path, help="gateway TOML configuration file")
    add.set_defaults(func=_cmd_host_add)

    ag = sub.add_parser("agent", help="run the agent on the office PC")
    ag.add_argument("--config", type=Path, help="TOML configuration file")
    ag.set_defaults(func=_cmd_agent)

    demo = sub.add_parser("demo", help="virtual office PC + agent + gateway on this machine")
    demo.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where the demo keeps its state")
    demo.add_argument("--port", type=int, default=8443, help="gateway HTTPS port on 127.0.0.1")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"jiseki: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
