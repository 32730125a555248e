"""Translation catalogue: gettext .po files (Babel), Japanese first, English second.

The .po files under `jiseki/locale/` are read directly at start-up, so no compile step is
needed. Message ids are the English texts; `ja` holds the translations.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"


@cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    path = resources.files(__package__).joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


def gettext(lang: str, msgid: str) -> str:
    return catalogue(lang).get(msgid, msgid)


def pick_language(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE


JST = ZoneInfo("Asia/Tokyo")


def format_jst(value: dt.datetime | None, empty: str = "—") -> str:
    """Japan time for tables and exports: `2026-11-27 09:30`."""
    if value is None:
        return empty
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M")
