"""What a search box's text looks for."""

from __future__ import annotations

import unicodedata


def search_terms(q: str) -> list[str]:
    """The query as typed and in NFKC form (full-width ｋ０１ finds k01)."""
    normal = unicodedata.normalize("NFKC", q)
    return [q] if normal == q else [q, normal]
