"""`jiseki host …`: office PCs (registration, enrollment tokens, revocation, host groups), through
`jiseki.gateway.admin`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .admin import ACTOR
from .context import Context
from .options import command, group


def add(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    async def action(ctx: Context) -> None:
        async with ctx.transaction() as s:
            await admin.register_host(
                s, ctx.ca, args.host_id, args.name or args.host_id, args.out, ctx.agent_lifetime, ACTOR
            )

    ctx.run(action)
    print(f"agent certificate for {args.host_id} written to {args.out}")
    return 0


def token(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    async def action(ctx: Context) -> str:
        async with ctx.transaction() as s:
            return await admin.create_enrollment_token(
                s, ctx.ca, args.host_id, args.name or args.host_id, args.hours, ACTOR
            )

    text = ctx.run(action)
    print(f"enrollment token for {args.host_id} (valid {args.hours:g} h, one use):\n{text}")
    print(f"On the office PC: jiseki agent enroll https://GATEWAY --token {text}")
    return 0


def revoke(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    ctx.write(lambda s: admin.revoke_host(s, args.host_id, args.reason, ACTOR))
    print(f"office PC {args.host_id}: agent certificate revoked")
    return 0


def set_group(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    ctx.write(lambda s: admin.set_host_group(s, args.host_id, args.group, ACTOR))
    print(f"{args.host_id}: host group {args.group or '(none)'}")
    return 0


def register(sub: Any) -> None:
    host = group(sub, "host", "office PCs", "host_command")

    p = command(host, "add", "register an office PC and write its agent files (demo, tests)", add)
    p.add_argument("host_id")
    p.add_argument("--name")
    p.add_argument("--out", type=Path, required=True, help="directory for agent.key, agent.crt and ca.crt")

    p = command(host, "token", "make a one-time enrollment token for an office PC", token)
    p.add_argument("host_id")
    p.add_argument("--name", help="display name")
    p.add_argument("--hours", type=float, default=24.0, help="validity (default 24, at most 336)")

    p = command(host, "revoke", "revoke an office PC's agent certificate", revoke)
    p.add_argument("host_id")
    p.add_argument("--reason", default="revoked by administrator")

    p = command(host, "group", "put an office PC in a host group (for policies)", set_group)
    p.add_argument("host_id")
    p.add_argument("group", nargs="?", default="", help="group name; empty removes it from its group")
