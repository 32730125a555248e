"""Readings (読み仮名) and dates over real TLS: readings stored as hiragana from the create and edit
forms, the staff list in あいうえお order (no reading after, by name), a search in katakana or hiragana;
dates as 2026/12/05（土）13:14 in Japanese and 2026/12/05 (Sat) 13:14 in English."""

from __future__ import annotations

import re

import pytest

from jiseki.gateway.db.models import User

from .conftest import RunningGateway
from .console_support import add_console_users, database, logged_in, post, text_of

pytestmark = pytest.mark.database


async def _reading(gw: RunningGateway, login_id: str) -> str | None:
    async with database(gw) as s:
        row = await s.get(User, login_id)
        assert row is not None
        return row.reading


async def test_reading_is_stored_sorted_and_searched(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    b = await logged_in(gateway, "root")
    async with b:
        for login_id, name, reading in (
            ("w-sato", "佐藤 花子", "サトウ ハナコ"),
            ("w-abe", "阿部 一郎", "ｱﾍﾞ ｲﾁﾛｳ"),
            ("w-ueda", "上田 次郎", " うえだ　じろう "),
            ("w-none", "Zed Noreading", ""),
        ):
            status, page, _loc = await post(
                b, "/admin/staff", {"login_id": login_id, "display_name": name, "reading": reading, "role": "staff"}
            )
            assert status == 200, page[:1000]
        assert await _reading(gateway, "w-sato") == "さとう はなこ"
        assert await _reading(gateway, "w-abe") == "あべ いちろう"
        assert await _reading(gateway, "w-ueda") == "うえだ じろう"
        assert await _reading(gateway, "w-none") is None

        # The edit form changes it; an over-long reading is refused with a Japanese message, nothing changed.
        status, _page, loc = await post(
            b, "/admin/account/w-none", {"display_name": "Zed Noreading", "department": "", "reading": "ゼッド"}
        )
        assert status == 303 and "done=updated" in loc
        assert await _reading(gateway, "w-none") == "ぜっど"
        status, page, _loc = await post(
            b, "/admin/account/w-none", {"display_name": "Zed Noreading", "department": "", "reading": "あ" * 256}
        )
        assert status == 400 and "読み仮名は255文字以内" in text_of(page)
        assert await _reading(gateway, "w-none") == "ぜっど"
        status, page, _loc = await post(
            b, "/admin/staff", {"login_id": "w-bad", "display_name": "x", "reading": "い" * 300, "role": "staff"}
        )
        assert status == 400 and "読み仮名は255文字以内" in text_of(page)

        # あいうえお order by default: あべ, うえだ, さとう, ぜっど before the people without a reading.
        status, page, _r = await b.get("/admin/staff?q=w-")
        assert status == 200
        order = [page.index(f'data-login="{i}"') for i in ("w-abe", "w-ueda", "w-sato", "w-none")]
        assert order == sorted(order)
        status, page, _r = await b.get("/admin/staff")
        assert page.index('data-login="w-none"') < page.index('data-login="root"')  # root has no reading

        # Katakana, half-width or hiragana search text finds the reading.
        for q in ("サトウ", "ｻﾄｳ", "さとう"):
            status, page, _r = await b.get(f"/admin/staff?q={q}")
            assert 'data-login="w-sato"' in page and 'data-login="w-abe"' not in page, q


async def test_dates_follow_the_page_language(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        status, page, _r = await b.get("/admin/account/alice?lang=ja")
        assert status == 200 and re.search(r"\d{4}/\d\d/\d\d（[月火水木金土日]）\d\d:\d\d", page)
        status, page, _r = await b.get("/admin/account/alice?lang=en")
        assert status == 200 and re.search(r"\d{4}/\d\d/\d\d \((Mon|Tue|Wed|Thu|Fri|Sat|Sun)\) \d\d:\d\d", page)
        assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page)
