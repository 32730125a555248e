"""Reading an uploaded CSV from a multipart form (size-limited by the guard)."""

from __future__ import annotations

from typing import Any

from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from jiseki.i18n import N_

from ...auth.users_csv import MAX_BYTES, CsvFileError, decode_csv
from .common import FormError

UPLOAD_LIMIT = MAX_BYTES + 64 * 1024  # the file plus the form's other fields


def uploaded_csv(form: MultiDictProxy[Any], name: str = "file") -> tuple[str, str]:
    """(file name, text); CsvFileError for a file that is too large or not text."""
    field = form.get(name)
    if not isinstance(field, FileField):
        raise FormError(name)
    data = field.file.read(MAX_BYTES + 1)
    if not data:
        raise CsvFileError(N_("The file is empty."))
    return (field.filename or "upload.csv")[:255], decode_csv(data)
