"""`jiseki policy set` and `jiseki policy show`, derived from the settings catalogue: the flags, the
values they give and the printed effective policy. One module, so the command moves as one piece."""

from __future__ import annotations

import argparse
from typing import Any

from jiseki.policy_kinds import Window
from jiseki.policy_settings import SETTINGS


def add_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The target (a department or a host group) and one flag per setting, unset by default."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--department")
    target.add_argument("--host-group")
    for s in SETTINGS:
        options = s.kind.cli_options()
        if isinstance(s.kind, Window):
            options["metavar"] = "HH:MM-HH:MM|any"
        parser.add_argument(s.flag, dest=s.name, help=s.help, **options)


def target_of(args: argparse.Namespace) -> tuple[str, str]:
    """(scope, name) of the policy to change."""
    return ("department", args.department) if args.department else ("host_group", args.host_group)


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The columns the flags given set (the others stay as they are); PolicyError names a bad flag."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        raw = getattr(args, s.name)
        if raw is not None:
            out |= s.kind.to_columns(s.name, s.kind.parse_text(s.flag, raw))
    return out


def show_lines(effective: Any) -> list[str]:
    """Each effective value and the policy that decided it (`jiseki.gateway.policy.Effective`)."""
    return [
        f"  {s.name:20} {s.kind.show(getattr(effective, s.name)):24} (from {effective.sources[s.name]})"
        for s in SETTINGS
    ]
