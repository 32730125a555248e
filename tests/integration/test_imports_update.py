"""The staff CSV in update mode and the background jobs that apply imports (issue 17).

Each test drives the real gateway over TLS like the console's browser; the job runs in the gateway's
event loop (or, for the resume tests, in a Runner the test makes, as a second node would)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json

import pytest
from sqlalchemy import select, update

from jiseki.gateway.admin import create_user
from jiseki.gateway.auth import totp
from jiseki.gateway.auth.passwords import PasswordPolicy, verify_password
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import Assignment, Department, Job, User, WebSession, utcnow
from jiseki.gateway.jobs import CHUNK, STALE, Runner, claim
from jiseki.gateway.scope import set_scope
from tests.org_seed import seed_organisation

from .conftest import PASSWORD, RunningGateway, Staff
from .console_support import (
    add_console_users,
    confirm,
    console_csrf,
    count_of,
    database,
    events,
    finished,
    logged_in,
    post_file,
    staged_path,
    text_of,
)

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too


async def add_user(gw: RunningGateway, login_id: str, role: str, department: str, *, totp_on: bool = True) -> None:
    box = totp.SecretBox(gw.config.gateway.data_dir / "secrets" / "totp.key")
    async with database(gw) as s:
        await create_user(s, PasswordPolicy(), login_id, f"{login_id} 氏名", department, role, PASSWORD, "test")
        secret = totp.new_secret() if totp_on else None
        if secret:
            user = await s.get(User, login_id)
            assert user is not None
            user.totp_secret, user.totp_enabled = box.seal(secret), True
        gw.staff[login_id] = Staff(login_id, PASSWORD, secret)


async def test_every_action_in_one_job_previewed_then_applied(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await add_user(gateway, "dave", "staff", "総務課", totp_on=False)
    async with database(gateway) as s:
        s.add(Assignment(user_id="dave", host_id="pc-1"))
        carol = await s.get(User, "carol")
        assert carol is not None
        carol.disabled = True
    data = (
        "ログインID,氏名,フリガナ,所属,権限,処理\n"
        "k001,山田 太郎,ヤマダ　タロウ ,人事課,職員,\n"  # new: created; the reading in hiragana
        "alice,,アリス,人事課,,\n"  # exists: updated (department, reading); the name is left as is
        "bob,,,,,無効化\n"
        "carol,,,,,有効化\n"
        "dave,,,,,削除\n"
        "hd,,,,職員,\n"  # a role change: hd's web sessions end
        "aud,auditor aud,,,,\n"  # nothing changes
        "root,,,,職員,\n"  # the last administrator keeps the role
        "nobody,,,,,更新\n"
        "k002,佐藤 花子,さとう はなこ,人事課,管理者,作成\n"
        "k003,,,,,\n"  # new, but without a name
    )
    async with await logged_in(gateway, "hd") as hd_browser, await logged_in(gateway, "root") as b:
        status, page = await post_file(b, "/admin/staff/import", "\ufeff".encode() + data.encode())
        assert status == 200, page[:500]
        counts = {a: count_of(page, a) for a in ("create", "update", "disable", "enable", "delete", "unchanged")}
        assert counts == {
            "create": "2件",
            "update": "2件",
            "disable": "1件",
            "enable": "1件",
            "delete": "1件",
            "unchanged": "1件",
        }
        assert count_of(page, "error") == "3件"
        text = text_of(page)
        assert "所属: 総務課 → 人事課" in text and "読み仮名: （空欄） → ありす" in text
        assert "権限: ヘルプデスク → 職員" in text  # roles by their names, never the codes
        assert "最後の管理者" in text and "職員アカウント「nobody」はありません" in text
        assert "7件の変更を反映する" in text
        async with database(gateway) as s:
            assert await s.get(User, "k001") is None  # nothing before the confirmation
        job_id = await confirm(b, staged_path(page))
        progress = await finished(b, job_id)
        assert progress == {"state": "done", "done": 11, "total": 11, "percent": 100}
        status, page, _r = await b.get(f"/admin/jobs/{job_id}")
        assert status == 200 and "取り込みが完了しました" in text_of(page)
        assert count_of(page, "create") == "2件" and count_of(page, "error") == "3件"
        # The result: every line with what was done, Japanese headers, neutralised cells.
        status, body, _r = await b.get(f"/admin/jobs/{job_id}/result.csv")
        assert status == 200 and body.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
        assert rows[0] == ["行", "ログインID", "処理", "結果", "内容"] and len(rows) == 12
        assert rows[1][:4] == ["2", "k001", "作成", "完了"] and rows[8][3] == "エラー"
        # The passwords: once, to the importer; two downloads racing get one file between them.
        token = await console_csrf(b, f"/admin/jobs/{job_id}")
        answers = await asyncio.gather(
            *(b.post_form(f"/admin/jobs/{job_id}/passwords", {"csrf_token": token}) for _ in range(2))
        )
        assert sorted(status for status, _body, _r in answers) == [200, 410]
        [passwords] = [body for status, body, _r in answers if status == 200]
        lines = list(csv.reader(io.StringIO(passwords.lstrip("\ufeff"))))
        assert lines[0] == ["ログインID", "氏名", "所属", "仮パスワード"]
        assert [line[:3] for line in lines[1:]] == [["k001", "山田 太郎", "人事課"], ["k002", "佐藤 花子", "人事課"]]
        status, _page, _r = await hd_browser.get("/admin")
        assert status != 200  # hd's role changed: signed out
    async with database(gateway) as s:
        k001, k002 = await s.get(User, "k001"), await s.get(User, "k002")
        assert k001 is not None and k001.reading == "やまだ たろう" and k001.must_change_password
        assert k002 is not None and k002.role == "admin"
        assert "m=8192,t=1,p=1" in k001.password_hash and verify_password(k001.password_hash, lines[1][3])
        alice = await s.get(User, "alice")
        assert alice is not None and (alice.display_name, alice.reading) == ("Alice", "ありす")
        department = await s.get(Department, alice.department_id)
        assert department is not None and department.name == "人事課"
        bob, carol, hd, root = [await s.get(User, i) for i in ("bob", "carol", "hd", "root")]
        assert bob is not None and bob.disabled and carol is not None and not carol.disabled
        assert hd is not None and hd.role == "staff" and root is not None and root.role == "admin"
        assert await s.get(User, "dave") is None
        assert (await s.execute(select(Assignment).where(Assignment.user_id == "dave"))).first() is None
        assert (await s.execute(select(WebSession).where(WebSession.user_id == "hd"))).first() is None
        job = await s.get(Job, job_id)
        assert job is not None and job.secret_result is None
    # One audit event for the whole import, with the counts and the login IDs by action.
    [event] = await events(gateway, "users_imported")
    details = json.loads(event.details or "{}")
    assert event.actor == "root" and details["job"] == job_id
    assert details["counts"]["create"] == 2 and details["counts"]["error"] == 3
    assert details["login_ids"]["delete"] == ["dave"] and sorted(details["login_ids"]["update"]) == ["alice", "hd"]
    assert not [e for e in await events(gateway, "user_created") if e.actor == "root"]
    assert lines[1][3] not in (event.details or "")


async def test_shift_jis_file_and_its_row_errors(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    data = (
        "ログインID,氏名,よみがな,権限,操作\n"
        "k101,新人 一郎,ｼﾝｼﾞﾝ ｲﾁﾛｳ,職員,追加\n"  # half-width katakana: stored as hiragana
        "bad id!,x,,,\n"
        "k102,x,abc,,\n"
        "k103,x,,社長,\n"
        "alice,,,,消去\n"
    )
    async with await logged_in(gateway, "root") as b:
        status, page = await post_file(b, "/admin/staff/import", data.encode("cp932"))
        assert status == 200, page[:500]
        text = text_of(page)
        assert count_of(page, "create") == "1件" and count_of(page, "error") == "4件"
        assert "ログインID「bad id!」は使えません" in text
        assert "読み仮名「abc」はひらがなかカタカナで書いてください" in text
        assert "処理「消去」は使えません" in text and "権限「社長」" in text
        job_id = await confirm(b, staged_path(page))
        assert (await finished(b, job_id))["state"] == "done"
        status, page = await post_file(b, "/admin/staff/import", "氏名\n山田\n".encode())
        assert status == 200 and "必要な列がありません：login_id" in text_of(page)
    async with database(gateway) as s:
        k101 = await s.get(User, "k101")
        assert k101 is not None and k101.reading == "しんじん いちろう"


async def test_mail_addresses_are_set_changed_and_cleared_by_an_import(gateway: RunningGateway) -> None:
    """Where alerts about each person's own account go, for thousands of staff at once."""
    await add_console_users(gateway)
    async with database(gateway) as s:
        await s.execute(update(User).where(User.id == "bob").values(email="bob@old.example.jp"))
        await s.execute(update(User).where(User.id == "carol").values(email="carol@pref.example.lg.jp"))
    data = (
        "ログインID,氏名,メールアドレス\n"
        "k201,新人 次郎,jiro@pref.example.lg.jp\n"  # created with an address
        "alice,,alice@pref.example.lg.jp\n"  # set
        "bob,,bob@pref.example.lg.jp\n"  # changed
        "carol,,\n"  # cleared
        "hd,,not-an-address\n"  # refused, nothing else on the line changes
    )
    async with await logged_in(gateway, "root") as b:
        status, page = await post_file(b, "/admin/staff/import", data.encode())
        assert status == 200, page[:500]
        text = text_of(page)
        assert count_of(page, "create") == "1件" and count_of(page, "update") == "3件"
        assert count_of(page, "error") == "1件" and "メールアドレス「not-an-address」は正しくありません" in text
        assert "メールアドレス: bob@old.example.jp → bob@pref.example.lg.jp" in text
        assert "メールアドレス: carol@pref.example.lg.jp → （空欄）" in text
        job_id = await confirm(b, staged_path(page))
        assert (await finished(b, job_id))["state"] == "done"
    async with database(gateway) as s:
        found = dict((await s.execute(select(User.id, User.email))).all())
    assert (found["k201"], found["alice"], found["bob"]) == (
        "jiro@pref.example.lg.jp",
        "alice@pref.example.lg.jp",
        "bob@pref.example.lg.jp",
    )
    assert found["carol"] is None and found["hd"] is None


async def test_a_delegated_administrator_imports_only_within_their_scope(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await add_user(gateway, "deleg", "admin", "総務課")
    await add_user(gateway, "eve", "staff", "財政課", totp_on=False)
    async with database(gateway) as s:
        soumu = (await s.execute(select(Department.id).where(Department.name == "総務課"))).scalar_one()
        await set_scope(s, "deleg", [soumu], [])
    await add_user(gateway, "boss", "admin", "総務課")  # a console account in the scope's department
    data = (
        "login_id,display_name,department,action,role\n"
        "alice,,財政課,,\n"  # into a department outside the scope
        "bob,,,disable,\n"
        "eve,,,disable,\n"  # outside the scope
        "k010,新人,総務課,,\n"
        "k011,新人2,財政課,,\n"
        "k012,新人3,総務課,,管理者\n"  # a delegated administrator grants the role "staff" only
        "bob,,,update,helpdesk\n"
        "boss,,,disable,\n"  # an administrator's account: not a delegated administrator's to change
    )
    async with await logged_in(gateway, "deleg") as b, await logged_in(gateway, "root") as root:
        status, page = await post_file(b, "/admin/staff/import", data.encode())
        assert status == 200, page[:500]
        text = text_of(page)
        assert "所掌範囲外の職員です" in text and "所属「財政課」は所掌範囲外です" in text
        assert count_of(page, "error") == "6件" and count_of(page, "disable") == "1件"
        job_id = await confirm(b, staged_path(page))
        assert (await finished(b, job_id))["state"] == "done"
        # Only the importer and a main administrator see the job; anyone else: not found.
        assert (await root.get(f"/admin/jobs/{job_id}"))[0] == 200
        async with await logged_in(gateway, "aud") as aud:
            assert (await aud.get(f"/admin/jobs/{job_id}"))[0] == 404
            assert (await aud.get(f"/admin/jobs/{job_id}/progress"))[0] == 404
    async with database(gateway) as s:
        bob, eve, alice = await s.get(User, "bob"), await s.get(User, "eve"), await s.get(User, "alice")
        assert bob is not None and bob.disabled and eve is not None and not eve.disabled
        assert alice is not None and alice.department_id == soumu
        assert await s.get(User, "k010") is not None and await s.get(User, "k011") is None
        # The job re-checks every row with the importer's rights as the preview did: no role given
        # beyond them, no administrator's account touched.
        assert await s.get(User, "k012") is None and bob.role == "staff"
        boss = await s.get(User, "boss")
        assert boss is not None and not boss.disabled


async def test_two_confirmations_racing_start_one_job(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        _status, page = await post_file(b, "/admin/staff/import", b"login_id,display_name\nk201,x\n")
        path, token = staged_path(page), await console_csrf(b)
        answers = await asyncio.gather(*(b.post_form(path, {"csrf_token": token}) for _ in range(2)))
        assert sorted(status for status, _b, _r in answers) == [303, 410]
    async with database(gateway) as s:
        assert len(list((await s.execute(select(Job))).scalars())) == 1


def _staff_csv(first: int, count: int) -> str:
    return "login_id,display_name\n" + "".join(f"k{i:04d},職員 {i}\n" for i in range(first, first + count))


async def test_a_stale_job_is_taken_over_by_one_node_and_resumes_where_it_stopped(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    engine = make_engine(gateway.db_url())
    db = sessionmaker(engine)
    box = totp.SecretBox(gateway.config.gateway.data_dir / "secrets" / "totp.key")
    total = CHUNK + 50
    try:
        async with db.begin() as s:  # a node died after its first chunk: done = CHUNK, old heartbeat
            s.add(
                Job(
                    id="a" * 32,
                    kind="staff",
                    actor="root",
                    state="running",
                    filename="april.csv",
                    content=_staff_csv(1, total),
                    options="{}",
                    total=total,
                    done=CHUNK,
                    node_id="dead-node",
                    heartbeat_at=utcnow() - STALE - dt.timedelta(seconds=5),
                    created_at=utcnow() - dt.timedelta(minutes=5),
                    expires_at=utcnow() + dt.timedelta(hours=1),
                )
            )
        nodes = [Runner(db, box, "node-a"), Runner(db, box, "node-b")]
        claimed = await asyncio.gather(*(n.sweep() for n in nodes))
        assert sum(len(c) for c in claimed) <= 1  # never two (the gateway's own sweep may have won)
        for node in nodes:
            await asyncio.gather(*node.tasks.values())
        for _ in range(300):
            async with db() as s:
                job = await s.get(Job, "a" * 32)
                assert job is not None
                if job.state == "done":
                    break
            await asyncio.sleep(0.1)
        assert job.state == "done" and job.done == total and job.node_id != "dead-node"
        async with db() as s:
            ids = set((await s.execute(select(User.id).where(User.id.like("k%")))).scalars())
        assert ids == {f"k{i:04d}" for i in range(CHUNK + 1, total + 1)}  # the first chunk was the dead node's
        # A fresh heartbeat is not taken over; of several claims racing on a stale job, one wins.
        assert not await claim(db, "a" * 32, "node-c")
        async with db.begin() as s:
            s.add(
                Job(
                    id="b" * 32,
                    kind="staff",
                    actor="root",
                    state="running",
                    filename="x.csv",
                    content=_staff_csv(900, 1),
                    options="{}",
                    total=1,
                    done=1,
                    node_id="dead-node",
                    heartbeat_at=utcnow() - dt.timedelta(minutes=2),
                    expires_at=utcnow() + dt.timedelta(hours=1),
                )
            )
        wins = await asyncio.gather(*(claim(db, "b" * 32, f"node-{i}") for i in range(5)))
        assert wins.count(True) == 1
        # An expired job goes, with any passwords nobody took.
        async with db.begin() as s:
            expired = await s.get(Job, "a" * 32)
            assert expired is not None
            expired.secret_result, expired.expires_at = box.seal("[]"), utcnow() - dt.timedelta(seconds=1)
        await nodes[0].sweep()
        async with db() as s:
            assert await s.get(Job, "a" * 32) is None
    finally:
        await engine.dispose()


async def test_assignments_import_runs_as_a_job_limited_to_the_scope(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    await add_user(gateway, "deleg", "admin", "財政課")
    await add_user(gateway, "eve", "staff", "財政課", totp_on=False)
    async with database(gateway) as s:
        zaisei = (await s.execute(select(Department.id).where(Department.name == "財政課"))).scalar_one()
        await set_scope(s, "deleg", [zaisei], [])
    data = "login_id,host_id,action\neve,pc-2,assign\nalice,pc-2,remove\n"
    async with await logged_in(gateway, "deleg") as b:
        status, page = await post_file(b, "/admin/assignments/import", data.encode())
        text = text_of(page)
        # alice (総務課, on pc-1) is outside; pc-2 is bob's (総務課): outside too, so "not found"
        assert status == 200 and "職員アカウント「alice」はありません" in text
        assert "自席PC「pc-2」は登録されていません" in text
    data = "login_id,host_id,action\nbob,pc-1,\ncarol,pc-1,削除\n"
    async with await logged_in(gateway, "root") as b:
        status, page = await post_file(b, "/admin/assignments/import", data.encode())
        job_id = await confirm(b, staged_path(page))
        assert (await finished(b, job_id))["state"] == "done"
        status, page, _r = await b.get(f"/admin/jobs/{job_id}")
        assert status == 200 and count_of(page, "assign") == "1件"
    async with database(gateway) as s:
        pairs = set((await s.execute(select(Assignment.user_id, Assignment.host_id))).all())
    assert ("bob", "pc-1") in pairs and ("carol", "pc-1") not in pairs
    [event] = await events(gateway, "assignments_imported")
    assert json.loads(event.details or "{}")["job"] == job_id


async def test_prefecture_sized_imports_are_previewed_and_applied(gateway: RunningGateway) -> None:
    """4,300 new accounts, then 1,000 April transfers, into a prefecture of 5,000 staff, previewed and
    applied by the job (how long it takes is bench/console_bench.py's to measure, not a test's)."""
    async with database(gateway) as s:  # the seed brings its own 総務課
        await s.execute(update(Department).values(name=Department.name + "（旧）"))
    org = await seed_organisation(gateway.db_url(), staff=5000, pcs=100, password=PASSWORD)
    await add_console_users(gateway)
    creates = "ログインID,氏名,フリガナ,所属\n" + "".join(
        f"n{i:05d},新規 職員{i},シンキ ショクイン,{org.departments[i % 40]}\n" for i in range(4300)
    )
    moves = "ログインID,所属\n" + "".join(f"{org.staff_ids[i]},{org.departments[(i + 1) % 40]}\n" for i in range(1000))
    async with await logged_in(gateway, "root") as b:
        for name, data, expected in (
            ("4,300 creates", creates, ("create", 4300)),
            ("1,000 updates", moves, ("update", 1000)),
        ):
            status, page = await post_file(b, "/admin/staff/import", data.encode())
            assert status == 200 and count_of(page, expected[0]) == f"{expected[1]:,}件", name
            job_id = await confirm(b, staged_path(page))
            assert (await finished(b, job_id, seconds=600))["done"] == expected[1], name
    async with database(gateway) as s:
        moved = await s.get(User, org.staff_ids[0])
        assert moved is not None and moved.department_id == org.department_ids[1]
        assert await s.get(User, "n04299") is not None
