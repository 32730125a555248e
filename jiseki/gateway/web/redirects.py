"""Redirect targets taken from a request (`next`): only a path on this site, else the top page.

Browsers are lenient with a Location value: they drop TAB/CR/LF anywhere, trim spaces and controls
at the ends and read `\\` as `/`, so `/<TAB>/evil.example` becomes `//evil.example`, another host.
aiohttp (yarl) also rewrites the value before sending it (it drops the TAB itself and decodes `%2e`).
So anything unusual is refused rather than repaired: a target keeps only plain printable characters,
starts with exactly one `/`, has no dot segments, and must still look so in the header actually sent.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from yarl import URL

MAX_TARGET = 512


def _plain(text: str) -> bool:
    """No whitespace, control, format or separator character, and no backslash."""
    return "\\" not in text and not any(
        c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Zs") for c in text
    )


def _site_path(text: str) -> bool:
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not text.startswith("/") or text.startswith("//"):
        return False
    return not any(seg in (".", "..") for seg in unquote(parts.path).split("/"))


def local_path(value: object) -> str:
    """`value` if it is a plain path on this site (what a redirect may go to), else "/"."""
    if not isinstance(value, str) or len(value) > MAX_TARGET:
        return "/"
    if not (_plain(value) and _plain(unquote(value)) and _site_path(value)):
        return "/"
    try:
        sent = str(URL(value))  # the Location aiohttp will really send
    except ValueError:
        return "/"
    return value if _plain(sent) and _site_path(sent) else "/"
