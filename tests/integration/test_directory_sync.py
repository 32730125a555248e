"""The synchronisation with a real directory (slapd with the AD-like organisation, over LDAPS with the
test CA) through a real gateway: the console's preview changes nothing; the run creates the staff with
Japanese names, readings, departments and roles from nested groups; a leaver (out of the groups, or
disabled there) is disabled and their live remote session ends; a change made over LDAP is an update;
a local account is never touched; the directory down is a failed run that changes nothing; the
schedule; the CLI; two nodes claiming a run at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update

from jiseki.config import GatewayConfig
from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, Department, DirectoryRun, User
from jiseki.gateway.directory import sync
from jiseki.gateway.directory.plan import Change, Plan
from jiseki.gateway.scope import set_scope
from jiseki.protocol import Status, StatusCode, decode_from_agent
from tests.directory_server import AD_GROUPS, AD_STAFF, DirectoryServer, ad_user

from .conftest import Browser, RunningGateway
from .console_support import (
    add_console_user,
    add_console_users,
    console_csrf,
    database,
    events,
    logged_in,
    post,
    text_of,
)
from .test_console_flows import _live_session

pytestmark = pytest.mark.database

USERS = f"CN=jiseki-users,{AD_GROUPS}"
PAGE = "/admin/directory"
SYNC = "/admin/directory/sync"


@pytest.fixture
def directory_config(directory: DirectoryServer, request: pytest.FixtureRequest) -> DirectoryConfig:
    """The gateway's: the AD-like organisation, staff = members of jiseki-users (nested groups count);
    a test's indirect parameter is the schedule's interval in minutes."""
    return directory.ad_config(group_dns=(USERS,), sync_interval_minutes=getattr(request, "param", 0))


def _dn(login: str, dept: str) -> str:
    return f"CN={login},OU={dept},{AD_STAFF}"


async def _people(gw: RunningGateway) -> dict[str, tuple[str, str | None, str, str, bool, str]]:
    """login → (name, reading, department, role, disabled, source)."""
    async with database(gw) as s:
        query = select(
            User.id, User.display_name, User.reading, Department.name, User.role, User.disabled, User.source
        ).outerjoin(Department, Department.id == User.department_id)
        return {r[0]: (r[1], r[2], r[3] or "", r[4], r[5], r[6]) for r in (await s.execute(query)).all()}


async def _runs(gw: RunningGateway) -> list[DirectoryRun]:
    async with database(gw) as s:
        return list((await s.execute(select(DirectoryRun).order_by(DirectoryRun.id))).scalars())


_COUNT = re.compile(r'<tr data-kind="(\w+)"><td>[^<]*</td><td class="num" data-count="(\d+)"')


def _counts(page: str) -> dict[str, int]:
    return {k: int(n) for k, n in _COUNT.findall(page)}


async def test_preview_then_run_from_the_console(gateway: RunningGateway, directory: DirectoryServer) -> None:
    await add_console_users(gateway)
    # bob is a local account whose login ID is also in the directory: a conflict, left alone.
    directory.add(*ad_user("bob", "母部 武", "ぼぶ たけし", "総務課", ["jiseki-users"]))
    async with Browser(gateway, gateway.terminal_ssl()) as alice, aiohttp.ClientSession() as http:
        control, viewer, agent, _created = await _live_session(gateway, alice, http)
        # alice is a directory account whose entry is out of the staff group: a leaver.
        directory.add(*ad_user("alice", "有栖 花子", "ありす はなこ", "総務課", []))
        async with database(gateway) as s:
            await s.execute(
                update(User).where(User.id == "alice").values(source="directory", directory_dn=_dn("alice", "総務課"))
            )
        before = await _people(gateway)

        b = await logged_in(gateway, "root")
        async with b:
            status, page, _r = await b.get(PAGE)
            assert status == 200 and 'id="sync"' in page and "まだ同期を実行していません" in text_of(page)
            token = await console_csrf(b, PAGE)
            status, page, _loc = await post(b, SYNC + "/preview", {}, token)
            assert status == 200, text_of(page)[:2000]
            assert "プレビュー（まだ何も変更していません）" in text_of(page) and 'id="sync-run-form"' in page
            assert _counts(page) == {"create": 4, "update": 0, "disable": 1, "enable": 0, "conflict": 1}
            assert '<tr data-id="yamada" data-kind="create"><td>yamada</td><td>作成</td>' in page
            assert "同じログインIDのローカルアカウントがあるため変更しません" in text_of(page)
            assert await _people(gateway) == before  # the preview changed nothing

            status, page, _loc = await post(b, SYNC + "/run", {}, token)
            assert status == 200 and "同期しました" in text_of(page), text_of(page)[:2000]
            ended = decode_from_agent((await viewer.receive(timeout=5)).data)
            assert ended == Status(StatusCode.SESSION_ENDED, "account_disabled")
            status, _page, response = await alice.get("/")
            assert status == 303 and response.headers["Location"] == "/login"  # signed out everywhere
            for ws in (agent, control):
                await ws.close()

            people = await _people(gateway)
            assert people["yamada"] == ("山田 太郎", "やまだ たろう", "総務課", "staff", False, "directory")
            assert people["sato"] == ("佐藤 花子", "さとう はなこ", "情報政策課", "admin", False, "directory")
            assert people["suzuki"] == (
                "鈴木 一郎",
                "すずき いちろう",
                "税務課",
                "helpdesk",
                False,
                "directory",
            )  # nested
            assert people["ito"][3:] == ("staff", False, "directory")  # locked out for now: still staff
            assert not {"takahashi", "tanaka", "watanabe", "svc-jiseki"} & set(people)  # disabled, expired, no group
            assert people["alice"][4] is True
            for local in ("bob", "carol", "root", "hd", "aud"):
                assert people[local] == before[local]
            async with database(gateway) as s:
                alice_row = await s.get(User, "alice")
                yamada = await s.get(User, "yamada")
            assert alice_row is not None and alice_row.directory_dn is None  # disabled by the sync: the marker
            assert yamada is not None and yamada.directory_dn == _dn("yamada", "総務課").lower()
            assert yamada.password_hash.startswith("!") and not yamada.local_password
            assert yamada.email == "yamada@pref.example.lg.jp"  # alerts about her own account go there

            runs = await _runs(gateway)
            assert [(r.trigger, r.actor, r.dry_run, r.state) for r in runs] == [
                ("manual", "root", True, "done"),
                ("manual", "root", False, "done"),
            ]
            assert json.loads(runs[1].counts or "{}")["create"] == 4
            synced = await events(gateway, "directory_synced")
            assert len(synced) == 2 and synced[1].actor == "root"
            details = json.loads(synced[1].details or "{}")
            assert sorted(details["login_ids"]["create"]) == ["ito", "sato", "suzuki", "yamada"]
            assert details["login_ids"]["disable"] == ["alice"] and details["dry_run"] is False
            created = {e.subject for e in await events(gateway, "user_created")}
            assert "yamada" not in created  # one event for the run, not one per row

            # Changes made over LDAP: a new name and department, a role lost (out of the nested group),
            # an account disabled there, and alice back in the group (enabled again: the sync disabled her).
            directory.modify(
                _dn("yamada", "総務課"),
                {"displayName": ["山田 太朗"], "department": ["税務課"], "mail": ["taro.yamada@pref.example.lg.jp"]},
            )
            async with database(gateway) as s:  # an address set by hand for someone the directory has none for
                await s.execute(update(User).where(User.id == "suzuki").values(email="suzuki@home.example.jp"))
            directory.modify(_dn("suzuki", "税務課"), {"memberOf": [f"CN=tax-staff,{AD_GROUPS}"]})
            directory.modify(_dn("sato", "情報政策課"), {"userAccountControl": ["514"]})
            directory.modify(_dn("alice", "総務課"), {"memberOf": [USERS]})
            status, page, _loc = await post(b, SYNC + "/run", {}, token)
            assert status == 200, text_of(page)[:2000]
            assert _counts(page) == {"create": 0, "update": 2, "disable": 1, "enable": 1, "conflict": 1}
            people = await _people(gateway)
            assert people["yamada"][:4] == ("山田 太朗", "やまだ たろう", "税務課", "staff")
            assert people["suzuki"][3] == "staff" and people["sato"][4] is True
            async with database(gateway) as s:
                addresses = dict(
                    (await s.execute(select(User.id, User.email).where(User.id.in_(("yamada", "suzuki"))))).all()
                )
            assert addresses == {"yamada": "taro.yamada@pref.example.lg.jp", "suzuki": "suzuki@home.example.jp"}
            assert people["alice"][0] == "有栖 花子" and people["alice"][4] is False

            # An account disabled by hand stays disabled; a run with nothing new changes nothing.
            async with database(gateway) as s:
                await s.execute(update(User).where(User.id == "ito").values(disabled=True))
            status, page, _loc = await post(b, SYNC + "/run", {}, token)
            counts = {"create": 0, "update": 0, "disable": 0, "enable": 0, "conflict": 1, "kept_disabled": 1}
            assert _counts(page) == counts
            assert "管理者が無効にしたアカウントのため無効のままにします" in text_of(page)
            assert (await _people(gateway))["ito"][4] is True

            status, page, _r = await b.get(PAGE)
            assert page.count('data-state="done"') == 4 and "管理コンソール（root）" in text_of(page)


async def test_the_directory_down_is_a_failed_run_that_changes_nothing(
    gateway: RunningGateway, directory: DirectoryServer
) -> None:
    await add_console_users(gateway)
    directory.stop()
    before = await _people(gateway)
    async with await logged_in(gateway, "root") as b:
        status, page, _loc = await post(b, SYNC + "/run", {}, await console_csrf(b, PAGE))
        assert status == 502 and "同期に失敗したため、何も変更していません" in text_of(page)
        status, page, _r = await b.get(PAGE)
        assert 'data-state="failed"' in page and "失敗" in text_of(page)
    assert await _people(gateway) == before
    (run,) = await _runs(gateway)
    assert run.state == "failed" and run.error and "DirectoryUnavailable" in run.error and run.finished_at
    (event,) = await events(gateway, "directory_synced")
    assert event.outcome == "error" and "DirectoryUnavailable" in json.loads(event.details or "{}")["error"]


async def test_only_full_administrators_synchronise(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await add_console_user(gateway, "deleg", "admin")  # an administrator with a 所掌範囲
    async with database(gateway) as s:
        dept = (await s.execute(select(Department.id).where(Department.name == "総務課"))).scalar_one()
        await set_scope(s, "deleg", [dept], [])
    for login_id in ("hd", "aud", "deleg"):
        async with await logged_in(gateway, login_id) as b:
            status, _page, _r = await b.get(PAGE)
            assert status == 403
            status, _page, _loc = await post(b, SYNC + "/run", {}, await console_csrf(b))
            assert status == 403
    async with await logged_in(gateway, "root") as b:
        status, _page, _r = await b.post_form(SYNC + "/run", {})  # no CSRF token
        assert status in (400, 403)
    assert await _runs(gateway) == []


@pytest.mark.parametrize("directory_config", [60], indirect=True)
async def test_the_schedule_runs_a_synchronisation(gateway: RunningGateway) -> None:
    for _ in range(100):
        runs = await _runs(gateway)
        if runs and runs[0].state != "running":
            break
        await asyncio.sleep(0.1)
    assert [(r.trigger, r.state, r.dry_run) for r in runs] == [("schedule", "done", False)]
    assert (await _people(gateway))["yamada"][5] == "directory"


def _cli(gw: GatewayConfig, directory: DirectoryServer, *args: str) -> subprocess.CompletedProcess[str]:
    config = gw.data_dir.parent / "cli-directory.toml"
    d = directory.ad_config(group_dns=(USERS,))
    config.write_text(
        f'[gateway]\ndata_dir = "{gw.data_dir}"\ndatabase_url = "{gw.database_url}"\n'
        f'[directory]\nenabled = true\nkind = "ad"\nservers = {json.dumps(list(d.servers))}\n'
        f'ca_file = "{d.ca_file}"\nbind = "search"\nservice_dn = "{d.service_dn}"\n'
        f"base_dns = {json.dumps(list(d.base_dns), ensure_ascii=False)}\n"
        f"group_dns = {json.dumps(list(d.group_dns), ensure_ascii=False)}\n"
        f'reading_attribute = "{d.reading_attribute}"\n'
        f"role_groups = {{ admin = {json.dumps(d.role_groups['admin'])},"
        f" helpdesk = {json.dumps(d.role_groups['helpdesk'])} }}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "JISEKI_DIRECTORY_PASSWORD": d.service_password,
    }
    return subprocess.run(
        [sys.executable, "-m", "jiseki", "directory", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


async def test_the_command_line(tmp_path: Path, directory: DirectoryServer, database_url: str) -> None:
    """Against a database of its own (no gateway running on it: one SQLite process at a time)."""
    gw = GatewayConfig(data_dir=tmp_path / "cli-gw", database_url=database_url)

    async def read() -> tuple[dict[str, str], list[tuple[str, str | None, bool]], list[tuple[str | None, str]]]:
        engine = make_engine(gw.effective_database_url)
        try:
            async with sessionmaker(engine)() as s:
                sources = dict((await s.execute(select(User.id, User.source))).all())
                runs = (await s.execute(select(DirectoryRun).order_by(DirectoryRun.id))).scalars()
                synced = select(AuditEvent).where(AuditEvent.kind == "directory_synced").order_by(AuditEvent.id)
                return (
                    sources,
                    [(r.trigger, r.actor, r.dry_run) for r in runs],
                    [(e.actor, e.outcome) for e in (await s.execute(synced)).scalars()],
                )
        finally:
            await engine.dispose()

    done = await asyncio.to_thread(_cli, gw, directory, "test")
    assert done.returncode == 0, done.stderr
    assert ": ok (" in done.stdout and "staff entries: 6" in done.stdout
    done = await asyncio.to_thread(_cli, gw, directory, "sync", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would change:" in done.stdout and "  create: 4" in done.stdout
    assert "yamada" not in (await read())[0]
    done = await asyncio.to_thread(_cli, gw, directory, "sync")
    assert done.returncode == 0, done.stderr
    sources, runs, synced = await read()
    assert "changed:" in done.stdout and sources["yamada"] == "directory"
    assert runs == [("cli", "cli", True), ("cli", "cli", False)]
    assert synced == [("cli", "ok"), ("cli", "ok")]
    directory.stop()
    done = await asyncio.to_thread(_cli, gw, directory, "sync")
    assert done.returncode == 1 and "synchronisation failed" in done.stderr
    assert (await read())[2][-1] == ("cli", "error")


async def test_one_node_at_a_time(gateway: RunningGateway) -> None:
    """Nodes claiming a run at once: exactly one gets it; a fresh running run blocks, a stale one not."""
    engines = [make_engine(gateway.db_url()) for _ in range(4)]
    try:
        dbs = [sessionmaker(e) for e in engines]
        claims = await asyncio.gather(
            *(sync.claim(db, "schedule", None, f"node-{i}", False) for i, db in enumerate(dbs))
        )
        assert len([c for c in claims if c is not None]) == 1
        assert await sync.claim(dbs[0], "manual", "root", "node-0", False) is None  # still running
        assert await sync.claim(dbs[0], "manual", "root", "node-0", True) is not None  # a dry run is never refused
        async with dbs[0].begin() as s:  # the node that claimed it stopped 31 minutes ago
            old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
            await s.execute(update(DirectoryRun).where(~DirectoryRun.dry_run).values(started_at=old))
        again = await asyncio.gather(*(sync.claim(db, "schedule", None, "node-x", False) for db in dbs))
        assert len([c for c in again if c is not None]) == 1
        async with dbs[0]() as s:
            states = sorted((await s.execute(select(DirectoryRun.state).where(~DirectoryRun.dry_run))).scalars())
        assert states == ["failed", "running"]
    finally:
        for e in engines:
            await e.dispose()


async def test_applying_keeps_the_last_administrator(gateway: RunningGateway) -> None:
    """The plan already refuses it; applying re-checks with the guarded single-row operation (an
    administrator disabled elsewhere between the plan and the run)."""
    async with database(gateway) as s:
        await s.execute(update(User).where(User.id == "carol").values(role="admin", source="directory"))
    plan = Plan(changes=[Change("disable", "carol", None, reason="gone"), Change("disable", "alice", None)])
    result = sync.RunResult(0, "running", plan)
    engine = make_engine(gateway.db_url())
    try:
        await sync._apply(sessionmaker(engine), plan, DirectoryConfig(), result)
    finally:
        await engine.dispose()
    refused = dict(result.refused)
    assert "last administrator" in refused["carol"] and "no staff account" in refused["alice"]  # local: never
    assert result.disabled == [] and result.applied == set()
    people = await _people(gateway)
    assert people["carol"][3:5] == ("admin", False) and people["alice"][4] is False  # alice is a local account


async def test_plain_ldap_departments_from_the_dn_and_nested_groups(
    gateway: RunningGateway, directory: DirectoryServer
) -> None:
    """OpenLDAP (inetOrgPerson, groupOfNames) over StartTLS: the department is the entry's OU, the
    administrator role comes through a nested group."""
    engine = make_engine(gateway.db_url())
    try:
        result = await sync.run_sync(sessionmaker(engine), directory.ldap_config(), trigger="cli", actor="cli")
    finally:
        await engine.dispose()
    assert result.state == "done", result.error
    people = await _people(gateway)
    assert people["kimura"] == ("木村 一子", None, "総務課", "staff", False, "directory")
    assert people["hayashi"][2:4] == ("情報政策課", "admin") and people["mori"][2:4] == ("情報政策課", "staff")


async def test_a_run_already_running_is_said(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with database(gateway) as s:
        s.add(DirectoryRun(trigger="schedule", dry_run=False, state="running", node_id="node-b"))
    async with await logged_in(gateway, "root") as b:
        status, page, _loc = await post(b, SYNC + "/run", {}, await console_csrf(b, PAGE))
        assert status == 409 and "別の同期を実行中です" in text_of(page)
        status, page, _loc = await post(b, SYNC + "/preview", {}, await console_csrf(b, PAGE))
        assert status == 200 and 'data-dry-run="true"' in page  # a preview changes nothing: never refused
    assert [r.state for r in await _runs(gateway)] == ["running", "done"]
