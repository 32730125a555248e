"""`jiseki report usage`: sessions, hours, users and peak concurrency per period, as a table, CSV or
XLSX (`jiseki.gateway.reports`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import CommandError, jst_date
from .context import Context
from .options import command, group


def usage(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import reports
    from jiseki.gateway.db.models import utcnow
    from jiseki.i18n import gettext

    first, last = jst_date(args.date_from, "--from").date(), jst_date(args.date_to, "--to").date()
    if last <= first:
        raise CommandError("--to must be after --from")

    async def action(ctx: Context) -> list[reports.Span]:
        async with ctx.session() as s:
            return await reports.load_spans(s, first, last, utcnow())

    spans = ctx.run(action)
    rows = reports.usage(spans, first, last, args.by, args.group)

    def tr(msgid: str) -> str:
        return gettext(args.lang, msgid)

    if args.format == "xlsx":
        if args.out is None:
            raise CommandError("--format xlsx needs --out FILE.xlsx")
        reports.write_xlsx(rows, reports.by_hour(spans, first, last), args.out, tr)
    elif args.format == "csv":
        if args.out is None:
            reports.write_csv(rows, sys.stdout, tr)
        else:
            with args.out.open("w", encoding="utf-8", newline="") as fh:
                reports.write_csv(rows, fh, tr)
    else:
        print(" | ".join(tr(reports.HEADERS[c]) for c in reports.COLUMNS))
        for values in reports.table(rows):
            print(" | ".join(str(v) for v in values))
    return 0


def register(sub: Any) -> None:
    report = group(sub, "report", "usage reports", "report_command")

    p = command(report, "usage", "sessions, hours, users and peak concurrency per period", usage)
    p.add_argument("--from", dest="date_from", required=True, help="first day (YYYY-MM-DD, Japan time)")
    p.add_argument("--to", dest="date_to", required=True, help="day after the last (YYYY-MM-DD)")
    p.add_argument("--by", choices=("day", "week", "month"), default="day")
    p.add_argument("--group", choices=("all", "department", "user"), default="all")
    p.add_argument("--format", choices=("table", "csv", "xlsx"), default="table")
    p.add_argument("--lang", choices=("ja", "en"), default="ja")
    p.add_argument("--out", type=Path)
