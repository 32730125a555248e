"""Readings (読み仮名): one stored form, so that lists sort in あいうえお order and a search in
hiragana or katakana finds the same people.

A reading arrives from a form or a CSV: it is trimmed, width-normalised (ｶﾀｶﾅ, full-width spaces),
its katakana turned into hiragana and its inner spaces collapsed to one. Control characters are refused
(not dropped: a reading with a hidden byte is a mistake the administrator should see), and so is a
reading longer than the column. Letters other than kana stay (a reading may be written in Latin letters
for a name that has no Japanese one)."""

from __future__ import annotations

import re
import unicodedata

from jiseki.i18n import N_

from ..textclean import has_controls

MAX_READING = 255

# Katakana ァ (U+30A1) .. ヶ (U+30F6) map to hiragana ぁ (U+3041) .. ゖ (U+3096); ヽヾ to ゝゞ.
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)} | {0x30FD: 0x309D, 0x30FE: 0x309E}
_SPACES = re.compile(r"\s+")


class ReadingError(ValueError):
    """A reading that cannot be stored; `msgid` (with `values`) is shown in the administrator's language."""

    def __init__(self, msgid: str, **values: int) -> None:
        super().__init__(msgid.format(**values))
        self.msgid = msgid
        self.values = values


def to_hiragana(text: str) -> str:
    """`text` with its katakana (full or half width) as hiragana; other characters unchanged
    except for NFKC width folding. Used for the stored reading and for search text alike."""
    return unicodedata.normalize("NFKC", text).translate(_KATAKANA_TO_HIRAGANA)


def normalise_reading(value: str | None) -> str | None:
    """The stored form of a reading, None when empty. Raises ReadingError for control characters
    or more than MAX_READING characters (counted after normalisation)."""
    if value is None:
        return None
    if has_controls(value):
        raise ReadingError(N_("The reading must not contain control characters."))
    reading = _SPACES.sub(" ", to_hiragana(value)).strip()
    if len(reading) > MAX_READING:
        raise ReadingError(N_("The reading must be at most {n} characters."), n=MAX_READING)
    return reading or None
