"""`jiseki gateway` (run a node) and `jiseki db upgrade|current|downgrade`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from .context import Context
from .options import command, group


def run_gateway(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.server import serve

    gw = ctx.config.gateway
    if gw.log_file:
        from pathlib import Path

        from jiseki.gateway.logs import add_log_file

        add_log_file(Path(gw.log_file), gw.log_max_bytes, gw.log_backups)
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


def _alembic(ctx: Context, action: Any) -> Any:
    """Run `action(alembic_config)` on a connection of the configured database."""
    from jiseki.gateway.db.engine import alembic_config, make_engine

    async def run(ctx: Context) -> Any:
        gw = ctx.config.gateway
        _ = ctx.data_dir
        engine = make_engine(gw.effective_database_url)
        try:
            async with engine.begin() as conn:

                def sync(connection: Any) -> Any:
                    cfg = alembic_config()
                    cfg.attributes["connection"] = connection
                    return action(cfg, connection)

                return await conn.run_sync(sync)
        finally:
            await engine.dispose()

    return ctx.run(run)


def db_current(args: argparse.Namespace, ctx: Context) -> int:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    def action(cfg: Any, connection: Any) -> tuple[str, str]:
        current = MigrationContext.configure(connection).get_current_revision() or "(empty)"
        return current, ScriptDirectory.from_config(cfg).get_current_head() or ""

    current, head = _alembic(ctx, action)
    print(f"database schema: {current}; newest this jiseki knows: {head}")
    return 0 if current == head else 4


def db_downgrade(args: argparse.Namespace, ctx: Context) -> int:
    """Back to an older revision, for a rollback to the jiseki version that knew it (stop every node
    first). Migrations that drop data cannot bring it back: restoring the backup taken before the
    upgrade is the other way."""
    from alembic import command as alembic_command

    def action(cfg: Any, _connection: Any) -> None:
        alembic_command.downgrade(cfg, args.revision)

    _alembic(ctx, action)
    print(f"database schema downgraded to {args.revision}")
    return 0


def register(sub: Any) -> None:
    command(sub, "gateway", "run a gateway node", run_gateway)

    db = group(sub, "db", "database maintenance", "db_command")
    command(db, "upgrade", "apply the database migrations", db_upgrade)
    command(db, "current", "show the database's schema revision and the newest one (exit 4 if behind)", db_current)
    p = command(db, "downgrade", "migrate the database back to an older revision (every node stopped)", db_downgrade)
    p.add_argument("revision", help="e.g. 0011 or -1")
