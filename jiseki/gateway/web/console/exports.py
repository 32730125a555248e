"""Downloads of a filtered console list (audit log, session history): CSV streamed as it is read,
XLSX built in a worker thread; both with Japanese (reader's language) headers and neutralised cells."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from jiseki.i18n import JST

from ... import audit
from ...spreadsheet import BOM, append_row_streamed, csv_writer
from ..guards import STATE
from ..render import Translate, translator
from .common import Actor, query_choice

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_FLUSH_ROWS = 500


@dataclass(frozen=True)
class Column:
    header: str  # catalogue msgid
    width: int  # XLSX column width (characters)


async def audited_export(
    request: web.Request,
    actor: Actor,
    kind: str,
    name: str,
    title: str,
    columns: Sequence[Column],
    params: dict[str, str],
    rows: Callable[[Translate], AsyncIterator[list[Any]]],
) -> web.StreamResponse:
    """The download `?format=csv|xlsx` of a filtered list, recorded first as the event `kind` with
    the filter (an attempt is on record even if the reader stops it halfway)."""
    fmt = query_choice(request, "format", ("csv", "xlsx")) or "csv"
    await audit.record(
        request.app[STATE].db, kind, "ok", actor=actor.id, address=actor.address, format=fmt, filter=params
    )
    _ = translator(request)
    filename = f"jiseki-{name}-{dt.datetime.now(JST):%Y%m%d-%H%M%S}.{fmt}"
    return await send_export(request, fmt, filename, _(title), columns, rows(_))


async def send_export(
    request: web.Request,
    fmt: str,
    filename: str,
    sheet_title: str,
    columns: Sequence[Column],
    rows: AsyncIterator[list[Any]],
) -> web.StreamResponse:
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    _ = translator(request)
    headers = [_(c.header) for c in columns]
    if fmt == "csv":
        response = web.StreamResponse(headers={**disposition, "Content-Type": "text/csv; charset=utf-8"})
        await response.prepare(request)
        out = io.StringIO(newline="")
        out.write(BOM)  # Excel reads UTF-8 only with it
        writer = csv_writer(out)  # names, subjects and details come from outside: text, never formulas
        writer.writerow(headers)
        n = 0
        async for row in rows:
            writer.writerow(row)
            n += 1
            if n % CSV_FLUSH_ROWS == 0:
                await response.write(out.getvalue().encode("utf-8"))
                out.seek(0)
                out.truncate()
        await response.write(out.getvalue().encode("utf-8"))
        await response.write_eof()
        return response
    table = [row async for row in rows]  # bounded by the caller's limit
    body = await asyncio.to_thread(_xlsx, sheet_title, columns, headers, table)
    return web.Response(body=body, headers=disposition, content_type=XLSX_TYPE)


def _xlsx(title: str, columns: Sequence[Column], headers: list[str], table: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    for i, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = column.width
    sheet.freeze_panes = "A2"
    append_row_streamed(sheet, headers)
    for row in table:
        append_row_streamed(sheet, row)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xlsx"
        book.save(path)
        return path.read_bytes()
