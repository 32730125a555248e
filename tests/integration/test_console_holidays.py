"""Console: the organisation's default policy (全庁の既定) and the holiday calendar (national holidays,
closed days added, listed and removed, audited), who may change them, what an unset field says, and
the closed-day writes raced."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import jpholiday
import pytest
from sqlalchemy import select

from jiseki.gateway import admin, holidays
from jiseki.gateway.admin import AdminError
from jiseki.gateway.db.models import ClosedDay, Department, PolicyRow
from jiseki.gateway.scope import set_scope
from jiseki.i18n import JST

from .conftest import RunningGateway
from .console_support import add_console_users, database, events, logged_in, post, text_of
from .test_races import gated_before

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

WEEKDAYS = "月火水木金土日"


def shown(day: dt.date) -> str:
    """A day as the console shows it: 2027/01/04（月）."""
    return f"{day:%Y/%m/%d}（{WEEKDAYS[day.weekday()]}）"


def today() -> dt.date:
    return dt.datetime.now(JST).date()


async def _closed(gw: RunningGateway) -> dict[str, str]:
    async with database(gw) as s:
        return {d.day: d.name for d in (await s.execute(select(ClosedDay))).scalars()}


async def test_admin_adds_lists_and_removes_closed_days_with_audit(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    first = today() + dt.timedelta(days=20)
    async with await logged_in(gateway, "root") as b:
        fields = {"first": first.isoformat(), "last": (first + dt.timedelta(days=2)).isoformat(), "name": "臨時閉庁"}
        status, _body, location = await post(b, "/admin/holidays", fields)
        assert status == 303 and location.startswith("/admin/holidays")
        # Overlapping range: only the new days are added (and audited); the old ones keep their name.
        second, last = (first + dt.timedelta(days=d) for d in (2, 3))
        again = {"first": second.isoformat(), "last": last.isoformat(), "name": "別名"}
        assert (await post(b, "/admin/holidays", again))[0] == 303
        status, page, _r = await b.get("/admin/holidays")
        text = text_of(page)
        assert status == 200 and "祝日・閉庁日" in text and shown(first) in text and "臨時閉庁" in text
        assert f'data-day="{first.isoformat()}" data-kind="closed_day"' in page
        # The next twelve months' national holidays come from jpholiday, each with its weekday.
        national = jpholiday.between(today(), today() + dt.timedelta(days=300))
        assert national and all(shown(day) in text and name in text for day, name in national)
        # Mistakes are refused in Japanese, and nothing is stored.
        for bad, message in (
            ({"first": first.isoformat(), "last": (first - dt.timedelta(days=1)).isoformat(), "name": "x"}, "終了日"),
            ({"first": first.isoformat(), "last": "", "name": ""}, "名称を入力"),
            ({"first": "2027-02-30", "last": "", "name": "x"}, "YYYY-MM-DD"),
            ({"first": "2027-01-01", "last": "2028-06-01", "name": "x"}, "366日まで"),
            ({"first": first.isoformat(), "last": "", "name": "長" * 101}, "100文字以内"),
        ):
            status, page, _location = await post(b, "/admin/holidays", bad)
            assert status == 400 and message in text_of(page), (bad, text_of(page)[:300])
        status, _body, _location = await post(b, "/admin/holidays/remove", {"day": first.isoformat()})
        assert status == 303
        assert (await post(b, "/admin/holidays/remove", {"day": first.isoformat()}))[0] == 404  # already removed
        status, page, _r = await b.get("/admin/audit")
        assert "閉庁日の追加" in text_of(page) and "閉庁日の削除" in text_of(page)
    days = [(first + dt.timedelta(days=d)).isoformat() for d in range(4)]
    assert await _closed(gateway) == {days[1]: "臨時閉庁", days[2]: "臨時閉庁", days[3]: "別名"}
    added = await events(gateway, "closed_day_added")
    assert [json.loads(e.details or "{}")["after"]["days"] for e in added] == [days[:3], days[3:]]
    assert added[0].actor == "root" and added[0].subject == f"{days[0]}..{days[2]}"
    removed = await events(gateway, "closed_day_removed")
    assert len(removed) == 1 and removed[0].subject == days[0]
    assert json.loads(removed[0].details or "{}")["before"] == {"name": "臨時閉庁"}


async def test_only_administrators_change_closed_days(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    day = (today() + dt.timedelta(days=5)).isoformat()
    async with database(gateway) as s:
        await admin.add_closed_days(s, dt.date.fromisoformat(day), dt.date.fromisoformat(day), "県民の日", "root")
    for login_id in ("hd", "aud"):
        async with await logged_in(gateway, login_id) as b:
            status, page, _r = await b.get("/admin/holidays")
            assert status == 200 and "県民の日" in page and "/admin/holidays/remove" not in page
            assert (await post(b, "/admin/holidays", {"first": day, "last": "", "name": "x"}))[0] == 403
            assert (await post(b, "/admin/holidays/remove", {"day": day}))[0] == 403
    assert await _closed(gateway) == {day: "県民の日"}


async def test_the_organisation_default_is_edited_first_and_inherited_fields_say_so(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        status, page, _r = await b.get("/admin/policies")
        assert status == 200
        text = text_of(page)
        assert page.index('id="organisation-heading">全庁の既定<') < page.index('id="department-heading"')  # first
        # Nothing set anywhere: each field says it inherits the built-in default, never a sample value.
        assert 'placeholder="08:00"' not in page and 'placeholder="20:00"' not in page
        assert "（未設定：既定「オフ」を継承）" in page  # view-only, in the organisation's form
        fields = {"scope": "organisation", "name": "", "on_holidays": "no", "idle_minutes": "30", "start": "08:30"}
        fields["end"] = "17:15"
        status, _body, location = await post(b, "/admin/policies", fields)
        assert status == 303 and location.startswith("/admin/policies")
        status, page, _r = await b.get("/admin/policies?user=alice&pc=pc-1")
        text = text_of(page)
        # The departments' and groups' forms inherit from it, and say so.
        assert 'placeholder="（未設定：全庁の既定「30」を継承）"' in page
        assert "（未設定：全庁の既定「禁止」を継承）" in page and "（未設定：全庁の既定「08:30–17:15」を継承）" in page
        assert "祝日・閉庁日の利用 禁止 全庁の既定" in text and "無操作タイムアウト（分） 30 全庁の既定" in text
        status, page, _r = await b.get("/admin/policies?user=alice&pc=pc-1&lang=en")
        assert "Organisation default" in text_of(page)
    async with database(gateway) as s:
        row = (await s.execute(select(PolicyRow).where(PolicyRow.scope == "organisation"))).scalar_one()
        assert (row.target_id, row.on_holidays, row.idle_minutes, row.start) == (0, False, 30, "08:30")
    changed = await events(gateway, "policy_changed")
    assert changed[-1].subject == "organisation" and changed[-1].actor == "root"
    async with await logged_in(gateway, "hd") as b:  # read, not changed, by the helpdesk
        assert (await b.get("/admin/policies"))[0] == 200
        assert (await post(b, "/admin/policies", {**fields, "idle_minutes": "5"}))[0] == 403


async def test_racing_writes_of_the_same_closed_day_record_it_once(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = dt.date(2027, 5, 6)
    monkeypatch.setattr(holidays, "add_closed_days", gated_before(holidays.add_closed_days, 2))

    async def add(name: str) -> list[str]:
        async with database(gateway) as s:
            return await admin.add_closed_days(s, day, day, name, name)

    results = await asyncio.gather(add("a"), add("b"))
    assert sorted(results) == [[], ["2027-05-06"]]
    assert len(await events(gateway, "closed_day_added")) == 1
    winner = "a" if results[0] else "b"
    assert await _closed(gateway) == {"2027-05-06": winner}

    monkeypatch.setattr(holidays, "remove_closed_day", gated_before(holidays.remove_closed_day, 2))

    async def remove() -> str:
        try:
            async with database(gateway) as s:
                await admin.remove_closed_day(s, day, "root")
        except AdminError as exc:
            return exc.msgid
        return "removed"

    outcomes = await asyncio.gather(remove(), remove())
    assert sorted(outcomes) == ["removed", "{value} is not a closed day."]
    assert len(await events(gateway, "closed_day_removed")) == 1 and await _closed(gateway) == {}


async def test_a_delegated_console_user_cannot_open_the_organisations_policies(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with database(gateway) as s:
        own = (await s.execute(select(Department.id).where(Department.name == "情報政策課"))).scalar_one()
        await set_scope(s, "hd", [own], [])  # the helpdesk member looks after 情報政策課 only; alice is 総務課
    async with await logged_in(gateway, "hd") as b:
        # The policies are the organisation's: a delegated member cannot open the page, preview or not.
        assert (await b.get("/admin/policies?user=alice&pc=pc-1"))[0] == 403
        assert (await b.get("/admin/policies?user=hd&pc=pc-1"))[0] == 403
        assert (await b.get("/admin/policies"))[0] == 403
    async with await logged_in(gateway, "root") as b:
        assert (await b.get("/admin/policies?user=alice&pc=pc-1"))[0] == 200
