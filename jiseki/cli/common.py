"""What several command groups share: the operator's error, reading an input file, days in Japan time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


class CommandError(Exception):
    """Printed as one line, exit status 1."""


def read_input(path: Path) -> bytes:
    """The bytes of a file the operator named (a CSV, a CSR)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def read_csv(path: Path) -> str:
    """The text of a CSV file the operator named, in the encodings Excel writes."""
    from jiseki.gateway.auth.users_csv import decode_csv

    data = read_input(path)
    try:
        return decode_csv(data)
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None


def jst_date(text: str, flag: str) -> dt.datetime:
    """The start of a day (YYYY-MM-DD, given with `flag`) in Japan time."""
    from jiseki.i18n import JST

    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{flag}: give a date as YYYY-MM-DD (Japan time), got {text!r}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=JST)
