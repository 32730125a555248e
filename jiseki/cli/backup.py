"""`jiseki backup` and `jiseki restore`: one encrypted file with the database (taken while the
gateway runs), the data directory's keys and files, and the configuration file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .common import CommandError
from .context import Context
from .options import command

ACTOR = "cli"  # the audit events' actor
PASSPHRASE_ENV = "JISEKI_BACKUP_PASSPHRASE"  # noqa: S105 (the variable's name)


def read_passphrase(args: argparse.Namespace) -> bytes:
    """From --passphrase-file (its first line) or the environment; never from the command line."""
    if args.passphrase_file is not None:
        try:
            text = args.passphrase_file.read_text("utf-8").splitlines()
        except OSError as exc:
            raise CommandError(f"--passphrase-file: {exc.strerror}") from None
        value = text[0] if text else ""
    else:
        value = os.environ.get(PASSPHRASE_ENV, "")
    if len(value) < 12:
        raise CommandError(f"a passphrase of at least 12 characters is needed (--passphrase-file or {PASSPHRASE_ENV})")
    return value.encode()


def backup(args: argparse.Namespace, ctx: Context) -> int:
    import jiseki
    from jiseki.gateway.backup import BackupError, create_backup, schema_revision

    passphrase = read_passphrase(args)
    gw = ctx.config.gateway
    url = gw.effective_database_url
    schema = schema_revision(url) or _pg_revision(ctx)
    try:
        manifest = create_backup(
            args.out,
            passphrase,
            ctx.data_dir,
            url,
            ctx.config_path,
            gw.effective_node_id,
            schema,
            jiseki.__version__,
            with_recordings=not args.without_recordings,
        )
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    _record_backup(url, args.out, manifest, not args.without_recordings)
    print(f"backup written to {args.out} ({manifest['database']}, schema {manifest['schema_revision']})")
    return 0


def _record_backup(url: str, out: Path, manifest: dict[str, Any], recordings: bool) -> None:
    """Audit who took a copy of every key and record (actor `cli`), after the copy: through a plain
    engine, since a backup never migrates the database it copies."""
    import asyncio

    from jiseki.gateway import audit
    from jiseki.gateway.db.engine import make_engine, sessionmaker

    size = out.stat().st_size

    async def write() -> None:
        engine = make_engine(url)
        try:
            await audit.record(
                sessionmaker(engine),
                "backup_taken",
                "ok",
                actor=ACTOR,
                subject=out.name[:200],
                bytes=size,
                schema=manifest.get("schema_revision"),
                recordings=recordings,
            )
        finally:
            await engine.dispose()

    asyncio.run(write())


def _pg_revision(ctx: Context) -> str:
    """Read only: a backup never migrates the database it copies."""
    from alembic.runtime.migration import MigrationContext

    from .gateway import _alembic

    return str(_alembic(ctx, lambda _cfg, connection: MigrationContext.configure(connection).get_current_revision()))


def restore(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.backup import BackupError, restore_backup

    passphrase = read_passphrase(args)
    try:
        manifest = restore_backup(args.file, passphrase, args.data_dir, args.database_url or "", args.force)
    except BackupError as exc:
        raise CommandError(f"{args.file}: {exc}") from None
    print(
        f"restored the backup of node {manifest.get('node_id')} taken {manifest.get('created_at')} "
        f"(jiseki {manifest.get('jiseki_version')}, schema {manifest.get('schema_revision')}) into {args.data_dir}"
    )
    if manifest.get("config"):
        print(f"its configuration file is {args.data_dir / 'config-from-backup.toml'}: check gateway.data_dir in it")
    print("next: start the gateway on it, then run `jiseki audit verify`")
    return 0


def _passphrase_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--passphrase-file", type=Path, help=f"file whose first line is the passphrase (default: ${PASSPHRASE_ENV})"
    )


def register(sub: Any) -> None:
    text = "write an encrypted backup (database, keys, configuration) while the gateway runs"
    p = command(sub, "backup", text, backup)
    p.add_argument("out", type=Path, help="the backup file to write (created 0600)")
    p.add_argument("--without-recordings", action="store_true", help="leave the session recordings out")
    _passphrase_option(p)

    text = "restore a backup into a new data directory (and an empty PostgreSQL database)"
    p = command(sub, "restore", text, restore)
    p.add_argument("file", type=Path)
    p.add_argument("--data-dir", type=Path, required=True, help="the new data directory (must be empty)")
    p.add_argument("--database-url", help="an empty PostgreSQL database for a PostgreSQL backup")
    p.add_argument("--force", action="store_true", help="restore into a directory that is not empty")
    _passphrase_option(p)
