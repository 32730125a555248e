"""The options every command takes (`--config`, `-v`), before or after the (sub)command, and the
helpers with which the command groups declare their parsers."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context

# A command's handler: its parsed arguments and what it may open; it returns the exit status.
Handler = Callable[[argparse.Namespace, "Context"], int]


def add_global_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """`--config` and `-v` on the top parser and again on every subcommand, so they may come before or
    after it. Below the top their default is SUPPRESS: a value given earlier is kept, a later one wins."""
    parser.add_argument(
        "--config", type=Path, default=None if top else argparse.SUPPRESS, help="TOML configuration file"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=False if top else argparse.SUPPRESS, help="debug logging"
    )


def add_to_every_command(parser: argparse.ArgumentParser) -> None:
    """The global options on every parser below `parser` (groups and commands), added after their own
    arguments so that each command's help lists its own options first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                add_global_options(sub)
                add_to_every_command(sub)


def group(sub: Any, name: str, text: str, dest: str) -> Any:
    """A command group (`admin`, `host`...) whose commands are required."""
    return sub.add_parser(name, help=text).add_subparsers(dest=dest, required=True)


def command(sub: Any, name: str, text: str, handler: Handler) -> argparse.ArgumentParser:
    """A command run by `handler`; the caller declares its arguments on the parser returned."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=text)
    parser.set_defaults(func=handler)
    return parser
