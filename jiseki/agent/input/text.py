"""Which composed text (TEXT from the viewer, hostile input) the agent agrees to type.

Text mode exists for characters; everything that acts as a command travels as KEY. So a TEXT
message with a control character (CR, LF, TAB, ESC, DEL, C1 controls...), a non-character or a
bidirectional override is refused as a whole: typing half of it would be worse than nothing.
Variation selectors (異体字), joiners and private-use characters (外字) are ordinary text.
"""

from __future__ import annotations

import unicodedata

# Embedding, override and isolate controls: they reorder what is shown ("Trojan Source").
_BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))


def _noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def refusal(text: str) -> str | None:
    """Why `text` must not be typed, or None when it may be."""
    if not text:
        return "empty text"
    for ch in text:
        cp = ord(ch)
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"control character U+{cp:04X}"
        if category == "Cs":
            return f"surrogate U+{cp:04X}"
        if _noncharacter(cp):
            return f"non-character U+{cp:04X}"
        if cp in _BIDI_CONTROLS:
            return f"bidirectional control U+{cp:04X}"
    return None
