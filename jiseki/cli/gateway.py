"""`jiseki gateway` (run a node) and `jiseki db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from .context import Context
from .options import command, group


def run_gateway(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.server import serve

    asyncio.run(serve(ctx.config))
    return 0


def db_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    """Also prepares the data directory as a node's first start would (the CA with the server
    certificate, the TOTP key): `docs/deployment.md` has it run once, then `pki/` and `secrets/`
    copied to the other nodes."""

    async def action(ctx: Context) -> None:
        ctx.ca.ensure_server_cert(ctx.config.gateway.server_names)
        await ctx.db()  # opening the database runs the migrations
        _ = ctx.box

    ctx.run(action)
    print("database is at the newest schema")
    return 0


def register(sub: Any) -> None:
    command(sub, "gateway", "run a gateway node", run_gateway)

    db = group(sub, "db", "database maintenance", "db_command")
    command(db, "upgrade", "apply the database migrations", db_upgrade)
