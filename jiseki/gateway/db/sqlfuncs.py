"""SQL expressions that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class jst_date(FunctionElement[str]):  # lower case: reads like the SQL function
    """The Japan-time calendar day (YYYY-MM-DD) of a UTC timestamp column; Japan has no DST."""

    type = String()
    inherit_cache = True
    name = "jst_date"


@compiles(jst_date, "sqlite")
def _jst_date_sqlite(element: jst_date, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return f"date({compiler.process(column, **kw)}, '+9 hours')"


@compiles(jst_date)
def _jst_date_default(element: jst_date, compiler: Any, **kw: Any) -> str:  # PostgreSQL
    (column,) = element.clauses
    return f"to_char(({compiler.process(column, **kw)}) AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD')"
