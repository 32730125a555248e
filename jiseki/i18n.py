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


_WEEKDAYS = {"ja": "月火水木金土日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def format_jst_date(value: dt.datetime | dt.date | None, empty: str = "—", lang: str = DEFAULT_LANGUAGE) -> str:
    """A day in Japan time with its weekday: `2026/12/05（土）` (`2026/12/05 (Sat)` in English)."""
    if value is None:
        return empty
    day = value.astimezone(JST).date() if isinstance(value, dt.datetime) else value
    weekday = _WEEKDAYS["en" if lang == "en" else "ja"][day.weekday()]
    text = day.strftime("%Y/%m/%d")
    return f"{text} ({weekday})" if lang == "en" else f"{text}（{weekday}）"


def format_jst(value: dt.datetime | None, empty: str = "—", lang: str = DEFAULT_LANGUAGE) -> str:
    """Japan time as the console shows it: `2026/12/05（土）13:14` (`2026/12/05 (Sat) 13:14` in English)."""
    if value is None:
        return empty
    local = value.astimezone(JST)
    sep = " " if lang == "en" else ""
    return f"{format_jst_date(local, lang=lang)}{sep}{local.strftime('%H:%M')}"


def format_number(value: int | float | None) -> str:
    """Thousands separators, as in 4,329名."""
    if value is None:
        return "—"
    return f"{value:,}"


def format_bytes(value: int | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """A size with its unit: `65,536バイト（64KB）` in Japanese, `65,536 bytes (64 KB)` in English."""
    if value is None:
        return "—"
    exact = f"{value:,}バイト" if lang != "en" else f"{value:,} bytes"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if value >= size:
            amount = f"{value / size:,.1f}".removesuffix(".0")
            return f"{exact}（{amount}{unit}）" if lang != "en" else f"{exact} ({amount} {unit})"
    return exact


def N_(msgid: str) -> str:  # the gettext convention (gettext_noop)
    """Marks a catalogue message id that is translated later, where it is shown (gettext_noop)."""
    return msgid
