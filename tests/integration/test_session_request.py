"""The session request's decision (`session_request`), called directly on a real database and a real
broker: assignment, the administrator's hold, the policy's days and hours, the PC offline or in use,
and what is audited. (The HTTP answer it becomes is tested through the gateway in test_gateway.py
and test_policy.py.)"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Container
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jiseki.gateway import session_request
from jiseki.gateway.access import MESSAGES
from jiseki.gateway.broker import Broker
from jiseki.gateway.db.engine import make_engine, sessionmaker, upgrade_to_head
from jiseki.gateway.db.models import AuditEvent, Department, Host, Session, User
from jiseki.gateway.holidays import add_closed_days
from jiseki.gateway.hosts import assign
from jiseki.gateway.policies_db import set_policy
from jiseki.gateway.policy import JST
from jiseki.gateway.session_request import Denied, Granted

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # Monday 12:00 in Japan


@pytest.fixture
async def db(database_url: str, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """alice (総務課) is assigned pc-1 and pc-2, both online on this node; pc-3 exists, not hers."""
    engine = make_engine(database_url or f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await upgrade_to_head(engine)
    maker = sessionmaker(engine)
    async with maker.begin() as s:
        department = Department(name="総務課")
        s.add(department)
        await s.flush()
        s.add(User(id="alice", display_name="Alice", role="staff", password_hash="x", department_id=department.id))
        for n in (1, 2, 3):
            s.add(
                Host(
                    id=f"pc-{n}",
                    name=f"PC {n}",
                    cert_fingerprint=f"{n:02x}" * 32,
                    cert_serial=str(n),
                    online=True,
                    control_node="local",
                )
            )
        await s.flush()
        await assign(s, "alice", "pc-1")
        await assign(s, "alice", "pc-2")
    try:
        yield maker
    finally:
        await engine.dispose()


async def _alive() -> Container[str]:
    return {"local"}


@pytest.fixture
def broker(db: async_sessionmaker[AsyncSession]) -> Broker:
    return Broker(db, 15.0, "local", "https://gw.example", alive_nodes=_alive)


async def _request(
    db: async_sessionmaker[AsyncSession],
    broker: Broker,
    host_id: str,
    now: dt.datetime = NOW,
    terminal: tuple[str, str] = ("term-1", "cd" * 32),
) -> Granted | Denied:
    return await session_request.request_session(
        db,
        broker,
        user_id="alice",
        host_id=host_id,
        terminal_id=terminal[0],
        terminal_fingerprint=terminal[1],
        address="192.0.2.7",
        now=now,
    )


async def _audited(db: async_sessionmaker[AsyncSession]) -> list[tuple[str, str | None, dict[str, object]]]:
    async with db() as s:
        rows = (
            await s.execute(select(AuditEvent).where(AuditEvent.kind == "session_request").order_by(AuditEvent.id))
        ).scalars()
        return [(e.outcome, e.subject, json.loads(e.details or "{}")) for e in rows]


async def test_a_pc_not_assigned_or_unknown_is_not_registered(
    db: async_sessionmaker[AsyncSession], broker: Broker
) -> None:
    for host_id in ("pc-3", "pc-9", "no such/pc"):
        answer = await _request(db, broker, host_id)
        assert answer == Denied("unknown_host", 404, session_request.NOT_REGISTERED)
        assert answer.until is None
    assert [(o, subject, d["reason"]) for o, subject, d in await _audited(db)] == [
        ("denied", "pc-3", "not_assigned"),
        ("denied", "pc-9", "not_assigned"),
        ("denied", "no such/pc", "not_assigned"),
    ]
    assert broker.pending == {}


async def test_granted_offers_a_session_and_audits_it(db: async_sessionmaker[AsyncSession], broker: Broker) -> None:
    answer = await _request(db, broker, "pc-1")
    assert isinstance(answer, Granted)
    pending = answer.pending
    assert (pending.host_id, pending.user_id, pending.terminal_id) == ("pc-1", "alice", "term-1")
    assert broker.pending == {pending.id: pending}
    async with db() as s:
        row = await s.get(Session, pending.id)
    assert row is not None and (row.state, row.viewer_address) == ("requested", "192.0.2.7")
    [(outcome, subject, details)] = await _audited(db)
    assert (outcome, subject) == ("ok", "pc-1")
    assert details == {"session": pending.id, "terminal": "term-1"}


async def test_an_administrators_hold_refuses_until_it_ends(
    db: async_sessionmaker[AsyncSession], broker: Broker
) -> None:
    hold = NOW + dt.timedelta(minutes=10)
    async with db.begin() as s:
        s.add(Session(id="ended-1", host_id="pc-1", user_id="alice", state="ended", reconnect_after=hold))
    answer = await _request(db, broker, "pc-1")
    assert isinstance(answer, Denied)
    assert (answer.reason, answer.status, answer.msgid, answer.until) == ("admin", 409, MESSAGES["admin"], hold)
    # Only that PC is held, and only until then.
    assert isinstance(await _request(db, broker, "pc-2"), Granted)
    assert isinstance(await _request(db, broker, "pc-1", hold + dt.timedelta(seconds=1)), Granted)
    assert [(o, s, d.get("reason")) for o, s, d in await _audited(db)] == [
        ("denied", "pc-1", "admin"),
        ("ok", "pc-2", None),
        ("ok", "pc-1", None),
    ]


async def test_the_policys_days_and_hours_refuse_with_the_next_allowed_time(
    db: async_sessionmaker[AsyncSession], broker: Broker
) -> None:
    async with db.begin() as s:
        await set_policy(s, "department", "総務課", {"days": "sat,sun"}, "test")
    days = await _request(db, broker, "pc-1")  # a Monday
    assert isinstance(days, Denied) and (days.reason, days.status) == ("days", 403)
    assert days.msgid == MESSAGES["days"] and days.refusal is not None and days.refusal.policy
    assert days.until is not None and days.until.astimezone(JST).isoformat() == "2026-12-12T00:00:00+09:00"

    async with db.begin() as s:
        await set_policy(s, "department", "総務課", {"days": None, "start": "08:00", "end": "11:00"}, "test")
    hours = await _request(db, broker, "pc-1")  # 12:00
    assert isinstance(hours, Denied) and (hours.reason, hours.status, hours.msgid) == ("hours", 403, MESSAGES["hours"])
    assert hours.until is not None and hours.until.astimezone(JST).isoformat() == "2026-12-08T08:00:00+09:00"
    assert isinstance(await _request(db, broker, "pc-1", NOW - dt.timedelta(hours=2)), Granted)  # 10:00

    audited = await _audited(db)
    assert [(o, d.get("reason")) for o, _s, d in audited] == [("denied", "days"), ("denied", "hours"), ("ok", None)]
    assert audited[0][2]["policy"] == days.refusal.policy


async def test_an_offline_pc_or_one_in_use_is_unavailable(db: async_sessionmaker[AsyncSession], broker: Broker) -> None:
    async with db.begin() as s:
        host = await s.get(Host, "pc-2")
        assert host is not None
        host.online = False
    offline = await _request(db, broker, "pc-2")
    assert offline == Denied("host_offline", 409, session_request.UNAVAILABLE["host_offline"])
    assert isinstance(await _request(db, broker, "pc-1"), Granted)
    # The default policy refuses a second session: here from another terminal.
    in_use = await _request(db, broker, "pc-1", terminal=("term-2", "ef" * 32))
    assert in_use == Denied("in_use", 409, session_request.UNAVAILABLE["in_use"])
    assert len(broker.pending) == 1


async def test_the_same_person_at_the_same_terminal_replaces_a_session_whose_viewer_is_gone(
    db: async_sessionmaker[AsyncSession], broker: Broker
) -> None:
    """A crashed browser, or a second click on 接続: not a second user of the PC, so no "in use"."""
    first = await _request(db, broker, "pc-1")
    assert isinstance(first, Granted)
    second = await _request(db, broker, "pc-1")
    assert isinstance(second, Granted) and second.pending.id != first.pending.id
    assert first.pending.forced_reason == "takeover"  # the old one ends; its viewer is not there to be told
    # While a viewer is attached it is a session in use, even for the same person and terminal.
    second.pending.viewer_socket = _OpenSocket()  # type: ignore[assignment]
    assert (await _request(db, broker, "pc-1")) == Denied("in_use", 409, session_request.UNAVAILABLE["in_use"])


class _OpenSocket:
    closed = False


async def test_check_asks_nothing_of_the_broker(db: async_sessionmaker[AsyncSession]) -> None:
    """The viewer's end screen asks whether connecting is allowed: the same rules, no session made."""
    async with db() as s:
        allowed, policy = await session_request.check(s, "alice", "pc-1", NOW)
        unknown, no_policy = await session_request.check(s, "alice", "pc-3", NOW)
    assert allowed is None and policy is not None
    assert unknown is not None and unknown.reason == "unknown_host" and no_policy is None
    async with db() as s:
        assert (await s.execute(select(Session))).first() is None


def test_an_unavailable_pc_is_told_in_the_words_of_the_viewers_end_screen() -> None:
    from jiseki.gateway.web.pages import VIEWER_STRINGS

    for reason, msgid in session_request.UNAVAILABLE.items():
        assert VIEWER_STRINGS[f"ended.{reason}"] == msgid, reason
    assert session_request.unavailable("something new").msgid == VIEWER_STRINGS["ended.unknown"]


async def test_holidays_and_closed_days_refuse_when_the_organisation_default_says_so(
    db: async_sessionmaker[AsyncSession], broker: Broker
) -> None:
    new_year = dt.datetime(2026, 12, 30, 1, 0, tzinfo=dt.UTC)  # Wednesday 10:00 in Japan, 年末年始
    coming_of_age = dt.datetime(2027, 1, 11, 1, 0, tzinfo=dt.UTC)  # Monday 10:00, 成人の日 (jpholiday)
    async with db.begin() as s:
        await add_closed_days(s, dt.date(2026, 12, 29), dt.date(2027, 1, 3), "年末年始", "root")
        await set_policy(s, "department", "総務課", {"start": "08:30", "end": "17:15"}, "test")
    # The built-in default allows holidays: today's behaviour stays.
    assert isinstance(await _request(db, broker, "pc-1", new_year), Granted)
    async with db.begin() as s:
        await set_policy(s, "organisation", "", {"on_holidays": False}, "test")
    closed = await _request(db, broker, "pc-2", new_year)
    assert isinstance(closed, Denied) and (closed.reason, closed.status) == ("closed_day", 403)
    assert closed.refusal is not None and closed.refusal.policy == "organisation"
    assert closed.refusal.day is not None and closed.refusal.day.name == "年末年始"
    assert closed.until is not None and closed.until.astimezone(JST).isoformat() == "2027-01-04T08:30:00+09:00"
    holiday = await _request(db, broker, "pc-2", coming_of_age)
    assert isinstance(holiday, Denied) and holiday.reason == "holiday" and holiday.refusal is not None
    assert holiday.refusal.day is not None and holiday.refusal.day.name == "成人の日"
    assert holiday.until is not None and holiday.until.astimezone(JST).isoformat() == "2027-01-12T08:30:00+09:00"
    # A department that allows holidays overrides the organisation's default.
    async with db.begin() as s:
        await set_policy(s, "department", "総務課", {"on_holidays": True}, "test")
    assert isinstance(await _request(db, broker, "pc-2", coming_of_age), Granted)
    audited = await _audited(db)
    assert [(o, d.get("reason")) for o, _s, d in audited] == [
        ("ok", None),
        ("denied", "closed_day"),
        ("denied", "holiday"),
        ("ok", None),
    ]
