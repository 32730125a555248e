"""The `jiseki` command: gateway, agent, demo, and the administrators' commands.

One module per command group; each declares its commands' arguments next to their handlers in
`register(subparsers)`, and its handlers open only what they need (`context.Context`). The group
modules import nothing of the gateway at module level: building the parser stays cheap, and
`jiseki agent` runs on an office PC that has the agent's dependencies only."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from jiseki.config import ConfigError

from . import admin, agent, audit, backup, demo, directory, gateway, host, policy, report, terminal
from .common import CommandError
from .context import Context
from .options import add_global_options, add_to_every_command

__all__ = ["CommandError", "build_parser", "main"]

# The command groups in the order `jiseki --help` lists them.
COMMANDS: tuple[Callable[[Any], None], ...] = (
    gateway.register,  # gateway, db
    admin.register,
    directory.register,
    terminal.register,
    host.register,
    policy.register,
    audit.register,
    backup.register,  # backup, restore
    report.register,
    agent.register,
    demo.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiseki", description="Operate your office desk PC from a registered terminal."
    )
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub)
    add_to_every_command(parser)
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _operator_error(exc: Exception) -> bool:
    """An error of the gateway's modules that the operator can fix (and that names what to fix). Looked
    up among the modules already loaded: a command that never loaded them cannot have raised one."""
    kinds = [
        getattr(sys.modules.get(module), name, None)
        for module, name in (("jiseki.gateway.admin", "AdminError"), ("jiseki.gateway.pki", "PKIError"))
    ]
    return any(isinstance(kind, type) and isinstance(exc, kind) for kind in kinds)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    # Everything a command creates (database and its WAL, recordings, keys, exports, directories) is
    # for this user only, whatever umask the shell or service manager gave.
    previous_umask = os.umask(0o077)
    try:
        return int(args.func(args, Context(args.config)))
    except ConfigError as exc:
        print(f"jiseki: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"jiseki: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _operator_error(exc):
            print(f"jiseki: {exc}", file=sys.stderr)
            return 1
        raise
    finally:
        os.umask(previous_umask)  # matters only when called in-process (tests)
