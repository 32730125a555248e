"""`jiseki policy set` and `jiseki policy show`, derived from the settings catalogue
(`jiseki.policy_settings`): the flags, the values they give and the printed effective policy.
Writes go through `jiseki.gateway.admin.set_policy` (audited)."""

from __future__ import annotations

import argparse
from typing import Any

from jiseki.policy_kinds import PolicyError, Window
from jiseki.policy_settings import SETTINGS

from .admin import ACTOR
from .common import CommandError
from .context import Context
from .options import command, group


def add_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The target (the organisation's default, a department or a host group) and one flag per
    setting, unset by default."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--organisation", action="store_true", help="the organisation-wide default (departments and groups override it)"
    )
    target.add_argument("--department")
    target.add_argument("--host-group")
    for s in SETTINGS:
        options = s.kind.cli_options()
        if isinstance(s.kind, Window):
            options["metavar"] = "HH:MM-HH:MM|any"
        parser.add_argument(s.flag, dest=s.name, help=s.help, **options)
    parser.add_argument(
        "--second-factor",
        choices=("totp", "webauthn", "either", "inherit"),
        help="the login's second factor (organisation and departments only): one-time code, security key"
        " or passkey, or either; inherit: not set here",
    )


def target_of(args: argparse.Namespace) -> tuple[str, str]:
    """(scope, name) of the policy to change."""
    if args.organisation:
        return ("organisation", "")
    return ("department", args.department) if args.department else ("host_group", args.host_group)


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The columns the flags given set (the others stay as they are); PolicyError names a bad flag."""
    out: dict[str, Any] = {}
    for s in SETTINGS:
        raw = getattr(args, s.name)
        if raw is not None:
            out |= s.kind.to_columns(s.name, s.kind.parse_text(s.flag, raw))
    factor = getattr(args, "second_factor", None)
    if factor is not None:
        if args.host_group:
            raise PolicyError("--second-factor: only for the organisation default and departments")
        out["second_factor"] = None if factor == "inherit" else factor
    return out


def show_lines(effective: Any) -> list[str]:
    """Each effective value and the policy that decided it (`jiseki.gateway.policy.Effective`)."""
    return [
        f"  {s.name:20} {s.kind.show(getattr(effective, s.name)):24} (from {effective.sources[s.name]})"
        for s in SETTINGS
    ]


def set_(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    scope, name = target_of(args)
    try:
        settings = settings_from_args(args)
    except PolicyError as exc:
        raise CommandError(str(exc)) from None

    async def action(ctx: Context) -> dict[str, Any]:
        async with ctx.transaction() as s:
            try:
                return await admin.set_policy(s, scope, name, settings, ACTOR)
            except PolicyError as exc:
                raise CommandError(str(exc)) from None

    after = ctx.run(action)
    target = "the organisation default" if scope == "organisation" else f"{scope} {name!r}"
    print(f"policy of {target}: " + ", ".join(f"{k}={v}" for k, v in after.items() if v is not None))
    return 0


def show(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.policies_db import effective_for
    from jiseki.gateway.policy import Effective

    async def action(ctx: Context) -> Effective:
        async with ctx.session() as s:
            return await effective_for(s, args.login_id, args.host_id)

    effective = ctx.run(action)
    print(f"effective policy for {args.login_id} on {args.host_id}:")
    print("\n".join(show_lines(effective)))
    return 0


def register(sub: Any) -> None:
    policy = group(sub, "policy", "session policies", "policy_command")

    p = command(
        policy,
        "set",
        "set policy values of the organisation default, a department or a host group (others unchanged)",
        set_,
    )
    add_set_arguments(p)

    p = command(policy, "show", "the effective policy of a staff member on an office PC, with its sources", show)
    p.add_argument("login_id")
    p.add_argument("host_id")
