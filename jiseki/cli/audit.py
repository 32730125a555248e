"""`jiseki audit …`: verify the hash chain, export records, purge old ones (keeping the chain
verifiable from its anchor). Each first seals what the gateway has not sealed yet, and checks and
advances the head file in the data directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .admin import ACTOR
from .common import CommandError, jst_date
from .context import Context
from .options import command, group


def verify(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.audit.chain import Head, VerifyResult
    from jiseki.gateway.audit.head import HeadFileError
    from jiseki.gateway.audit.store import verify_chain

    try:
        expect = [Head.parse(text) for text in args.expect_head]
    except ValueError as exc:
        raise CommandError(f"--expect-head: {exc}") from None

    async def action(ctx: Context) -> VerifyResult:
        return await verify_chain(await ctx.db(), ctx.audit_head, expect)

    try:
        result = ctx.run(action)
    except HeadFileError as exc:
        raise CommandError(f"{exc} (if you know why, e.g. after restoring a backup, move it away)") from None
    print(result)
    return 0 if result.ok else 3


def export(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.audit.chain import ChainRecord
    from jiseki.gateway.audit.export import write_csv, write_jsonl
    from jiseki.gateway.audit.store import records_between

    start = None if args.date_from is None else jst_date(args.date_from, "--from")
    end = None if args.date_to is None else jst_date(args.date_to, "--to")

    async def action(ctx: Context) -> list[ChainRecord]:
        return [r async for r in records_between(await ctx.db(), start, end, ctx.audit_head)]

    records = ctx.run(action)
    writer = write_csv if args.format == "csv" else write_jsonl
    if args.out is None:
        writer(records, sys.stdout)
    else:
        with args.out.open("w", encoding="utf-8", newline="") as fh:
            count = writer(records, fh)
        print(f"{count} record(s) written to {args.out}", file=sys.stderr)
    return 0


def purge(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.audit.store import purge_before

    cutoff = jst_date(args.before, "--before")

    async def action(ctx: Context) -> int:
        return await purge_before(await ctx.db(), cutoff, ACTOR, ctx.audit_head)

    count = ctx.run(action)
    print(f"{count} record(s) before {args.before} purged; the chain stays verifiable from its anchor")
    return 0


def register(sub: Any) -> None:
    audit = group(sub, "audit", "the audit trail", "audit_command")

    p = command(
        audit, "verify", "check the whole hash chain, its anchor and its head; names the first broken record", verify
    )
    p.add_argument(
        "--expect-head",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="a head kept outside the database (e.g. seq and hash of the last record the SIEM received) "
        "that must be in the chain; may be repeated",
    )

    p = command(audit, "export", "export records (CSV for Excel, or JSON lines)", export)
    p.add_argument("--from", dest="date_from", help="first day (YYYY-MM-DD, Japan time)")
    p.add_argument("--to", dest="date_to", help="day after the last (YYYY-MM-DD, Japan time)")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("--out", type=Path, help="file to write (default: standard output)")

    p = command(audit, "purge", "delete records before a day, keeping the chain verifiable", purge)
    p.add_argument("--before", required=True, help="YYYY-MM-DD (Japan time)")
