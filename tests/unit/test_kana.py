"""Readings (読み仮名) are stored in one form: hiragana, trimmed, controls refused."""

from __future__ import annotations

import pytest

from jiseki.gateway.auth.kana import MAX_READING, ReadingError, normalise_reading, to_hiragana


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("やまだ たろう", "やまだ たろう"),
        ("ヤマダ タロウ", "やまだ たろう"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ たろう"),  # half-width katakana and its voiced mark
        ("  サトウ\u3000ハナコ  ", "さとう はなこ"),  # full-width space, trimmed
        ("ヴァン・ダイク", "ゔぁん・だいく"),
        ("スミス John", "すみす John"),
        ("コーヒー", "こーひー"),  # the long vowel mark stays
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalise_reading(given: str | None, stored: str | None) -> None:
    assert normalise_reading(given) == stored


@pytest.mark.parametrize("bad", ["やま\x00だ", "やま\nだ", "やま\x1bだ", "やま\x85だ"])
def test_controls_are_refused(bad: str) -> None:
    with pytest.raises(ReadingError):
        normalise_reading(bad)


def test_length_is_limited_after_normalisation() -> None:
    assert normalise_reading("あ" * MAX_READING) == "あ" * MAX_READING
    assert normalise_reading(" " + "ア" * MAX_READING + " ") == "あ" * MAX_READING
    with pytest.raises(ReadingError) as raised:
        normalise_reading("あ" * (MAX_READING + 1))
    assert raised.value.values == {"n": MAX_READING}


def test_search_text_folds_like_the_reading() -> None:
    assert to_hiragana("ヤマダ") == "やまだ"
    assert to_hiragana("ﾀﾅｶ") == "たなか"
    assert to_hiragana("山田") == "山田"
