"""The console's pure parts: the permission table, the chart, parsers and small helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.gateway.assignments_csv import parse_assignments_csv
from jiseki.gateway.audit import change
from jiseki.gateway.auth.accounts import valid_login_id
from jiseki.gateway.db.engine import make_engine, upgrade_to_head
from jiseki.gateway.db.models import AuditEvent, Base, Host
from jiseki.gateway.hosts import valid_host_id
from jiseki.gateway.permissions import (
    ORGANISATION_ONLY,
    PERMISSIONS,
    Action,
    allowed,
    grantable_roles,
    has_console,
    may_act_on_account,
)
from jiseki.gateway.web.console.audit_log import view_of
from jiseki.gateway.web.console.chart import daily_chart, nice_ceiling
from jiseki.gateway.web.console.dashboard import day_bounds
from jiseki.gateway.web.console.pcs import split_ids
from jiseki.gateway.web.pages import host_state


def test_permission_table() -> None:
    assert PERMISSIONS["admin"] == frozenset(Action)
    reading = {Action.VIEW, Action.VIEW_ORGANISATION}
    assert PERMISSIONS["auditor"] == reading | {Action.VIEW_AUDIT, Action.REPORTS, Action.RECORDINGS}
    helpdesk = {Action.STAFF_CREATE, Action.STAFF_CREDENTIALS, Action.SESSION_END, Action.PC_WAKE}
    assert PERMISSIONS["helpdesk"] == reading | helpdesk
    assert PERMISSIONS["staff"] == frozenset() and not has_console("staff") and not has_console("nobody")
    assert all(has_console(r) for r in ("admin", "helpdesk", "auditor"))
    assert not allowed("unknown-role", Action.VIEW)
    assert grantable_roles("helpdesk") == ("staff",) and grantable_roles("auditor") == ()
    assert set(grantable_roles("admin")) == {"staff", "helpdesk", "admin", "auditor"}
    # The helpdesk acts on staff-role accounts only; nobody else but an administrator acts at all.
    assert may_act_on_account("helpdesk", Action.STAFF_CREDENTIALS, "staff")
    for target in ("helpdesk", "admin", "auditor"):
        assert not may_act_on_account("helpdesk", Action.STAFF_CREDENTIALS, target)
        assert may_act_on_account("admin", Action.STAFF_CREDENTIALS, target)
    assert not may_act_on_account("helpdesk", Action.STAFF_DISABLE, "staff")
    assert not may_act_on_account("auditor", Action.STAFF_CREDENTIALS, "staff")


def test_delegated_console_users() -> None:
    """A scope (所掌範囲) takes the organisation-wide actions away and limits accounts to staff."""
    for role in ("admin", "helpdesk", "auditor"):
        for action in ORGANISATION_ONLY:
            assert not allowed(role, action, delegated=True), (role, action)
    assert allowed("admin", Action.TERMINAL_MANAGE) and allowed("admin", Action.SCOPE_MANAGE)
    assert allowed("admin", Action.STAFF_DISABLE, delegated=True)
    assert allowed("admin", Action.PC_MANAGE, delegated=True)  # revoking a PC of the scope
    assert not allowed("admin", Action.ENROLLMENT, delegated=True)
    assert allowed("helpdesk", Action.SESSION_END, delegated=True)
    assert not allowed("helpdesk", Action.STAFF_DISABLE, delegated=True)  # the role's rights, no more
    assert grantable_roles("admin", delegated=True) == ("staff",)
    assert grantable_roles("helpdesk", delegated=True) == ("staff",)
    assert grantable_roles("auditor", delegated=True) == ()
    assert may_act_on_account("admin", Action.STAFF_CREDENTIALS, "staff", delegated=True)
    for target in ("helpdesk", "admin", "auditor"):
        assert not may_act_on_account("admin", Action.STAFF_CREDENTIALS, target, delegated=True)
        assert not may_act_on_account("admin", Action.STAFF_EDIT, target, delegated=True)


def test_chart_scale_and_bars() -> None:
    assert [nice_ceiling(v) for v in (0, 3, 5, 11, 20, 21, 480, 4301)] == [4, 4, 5, 20, 20, 50, 500, 5000]
    last = dt.date(2026, 11, 27)
    chart = daily_chart({last: 40, last - dt.timedelta(days=29): 10, last - dt.timedelta(days=30): 999}, last)
    assert len(chart.bars) == 30 and chart.total == 50  # the day before the window is left out
    assert chart.bars[0].day == dt.date(2026, 10, 29) and chart.bars[-1].count == 40
    assert [t.value for t in chart.ticks] == [0, 12, 25, 37, 50]  # 40 rounds up to a scale of 50
    plot_height = chart.baseline - chart.ticks[-1].y
    assert abs(chart.bars[-1].height - plot_height * 40 / 50) < 1e-6
    assert abs(chart.bars[0].height - plot_height * 10 / 50) < 1e-6 and chart.bars[1].height == 0
    assert chart.bars[-1].label == "11-27" and chart.bars[-2].label == ""
    assert all(b.height >= 0 and b.y + b.height <= chart.baseline + 1e-6 for b in chart.bars)


def test_split_ids_accepts_what_people_paste() -> None:
    assert split_ids("k1\nk2, k3、k4 ; k1\r\n\tｋ５") == ["k1", "k2", "k3", "k4", "k5"]
    assert split_ids("  \n ") == []


def test_audit_change_keeps_only_changed_fields_and_the_view_splits_them() -> None:
    row = change(
        "user_updated",
        actor="root",
        subject="alice",
        before={"role": "staff", "display_name": "A"},
        after={"role": "admin", "display_name": "A"},
        reason="",
        note="x",
    )
    assert json.loads(row.details or "{}") == {
        "before": {"role": "staff"},
        "after": {"role": "admin"},
        "note": "x",
        "reason": "",
    }
    view = view_of(row)
    assert [(c.field, c.before, c.after) for c in view.changes] == [("role", "staff", "admin")]
    assert view.details == [("note", "x")]  # empty facts are left out
    assert view_of(AuditEvent(kind="x", outcome="ok", details='{"cut": "abc')).details == [("details", '{"cut": "abc')]


def test_host_state_precedence() -> None:
    host = Host(id="h", name="h", cert_fingerprint="f", cert_serial="s", online=False, locked=True)
    assert host_state(host, in_use=True) == "offline"
    host.online = True
    assert host_state(host, in_use=True) == "in_use"
    assert host_state(host, in_use=False) == "locked"
    host.locked = False
    assert host_state(host, in_use=False) == "online"


def test_assignments_csv_examples() -> None:
    rows, errors = parse_assignments_csv(
        "職員ID,自席PC,操作\nk1,pc-1,\nk1,pc-2,削除\nk1,pc-1,追加\nbad id,pc-1,\nk2,pc 9,\nk3,pc-3,move\n"
    )
    assert [(r.login_id, r.host_id, r.action) for r in rows] == [("k1", "pc-1", "assign"), ("k1", "pc-2", "remove")]
    assert [(e.line, e.msgid.split("“")[0]) for e in errors] == [
        (4, "This pair already appears on line {line}."),
        (5, "The login ID "),
        (6, "The PC ID "),
        (7, "The action "),
    ]
    assert errors[0].values == {"line": 2} and errors[3].record == ("k3", "pc-3", "move")
    assert parse_assignments_csv("login_id,name\nx,y\n")[1][0].msgid.startswith("Missing column(s)")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_assignments_csv_parser_never_crashes(text: str) -> None:
    rows, errors = parse_assignments_csv(text)
    assert all(valid_login_id(r.login_id) and valid_host_id(r.host_id) for r in rows)
    assert all(r.action in ("assign", "remove") for r in rows)
    assert all(e.line >= 1 and e.msgid.format(**e.values) for e in errors)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12), st.sampled_from(["", "追加", "削除", "x"]))))
def test_assignments_csv_reports_every_bad_row_by_its_line(records: list[tuple[str, str, str]]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["login_id", "host_id", "action"])
    writer.writerows(records)
    rows, errors = parse_assignments_csv(out.getvalue())
    lines = {r.line for r in rows} | {e.line for e in errors}
    non_blank = {i + 2 for i, rec in enumerate(records) if any(c.strip() for c in rec)}
    assert lines == non_blank  # every row is either imported or reported, none is lost


def test_migrations_match_the_models(tmp_path: Path) -> None:
    async def run() -> list[object]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
        try:
            await upgrade_to_head(engine)
            async with engine.connect() as conn:
                return await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == []


def test_dashboard_days_start_at_midnight_in_japan() -> None:
    bounds = day_bounds(dt.date(2026, 11, 27))
    assert len(bounds) == 31
    assert bounds[-1].astimezone(dt.UTC) == dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    assert bounds[0].astimezone(dt.UTC) == dt.datetime(2026, 10, 28, 15, 0, tzinfo=dt.UTC)


@given(st.text(max_size=300))
def test_split_ids_never_returns_blanks_or_separators(text: str) -> None:
    ids = split_ids(text)
    assert len(ids) == len(set(ids))
    assert all(i and not any(c in i for c in " \t\n\r,;、，") for i in ids)
