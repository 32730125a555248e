"""Dates and sizes as the console shows them: `2026/12/05（土）13:14` in Japan time, `65,536バイト（64KB）`."""

from __future__ import annotations

import datetime as dt

from jiseki.i18n import format_bytes, format_jst, format_jst_date


def test_date_and_time_in_japan_time_with_the_weekday() -> None:
    at = dt.datetime(2026, 12, 5, 4, 14, tzinfo=dt.UTC)  # 13:14 in Tokyo, a Saturday
    assert format_jst(at) == "2026/12/05（土）13:14"
    assert format_jst(at, lang="ja") == "2026/12/05（土）13:14"
    assert format_jst(at, lang="en") == "2026/12/05 (Sat) 13:14"
    assert format_jst(None) == "—" and format_jst(None, "", lang="en") == ""


def test_the_day_changes_at_midnight_in_tokyo_not_utc() -> None:
    late = dt.datetime(2026, 12, 6, 15, 30, tzinfo=dt.UTC)  # Monday 00:30 in Tokyo
    assert format_jst(late) == "2026/12/07（月）00:30"
    assert format_jst_date(late) == "2026/12/07（月）"
    assert format_jst_date(late, lang="en") == "2026/12/07 (Mon)"
    assert format_jst_date(dt.date(2026, 12, 6)) == "2026/12/06（日）"
    assert format_jst_date(None) == "—"


def test_sizes_in_japanese_units() -> None:
    assert format_bytes(65_536) == "65,536バイト（64KB）"
    assert format_bytes(65_536, "en") == "65,536 bytes (64 KB)"
    assert format_bytes(1_572_864) == "1,572,864バイト（1.5MB）"
    assert format_bytes(512) == "512バイト"
    assert format_bytes(None) == "—"
