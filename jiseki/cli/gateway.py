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
    ctx.run(Context.db)  # opening the database runs the migrations
    print("database is at the newest schema")
    return 0


def register(sub: Any) -> None:
    command(sub, "gateway", "run a gateway node", run_gateway)

    db = group(sub, "db", "database maintenance", "db_command")
    command(db, "upgrade", "apply the database migrations", db_upgrade)
