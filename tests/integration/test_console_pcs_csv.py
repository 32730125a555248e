"""Office PCs updated by CSV (names, PC groups, revocation): a preview with counts and per-row
Japanese errors, then a background job; each change audited as one PC's; organisation-wide only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from jiseki.gateway.db.models import Certificate, Host, HostGroup
from jiseki.gateway.scope import set_scope

from .conftest import RunningGateway
from .console_support import (
    add_console_users,
    confirm,
    count_of,
    database,
    events,
    finished,
    logged_in,
    post,
    post_file,
    staged_path,
    text_of,
)

pytestmark = pytest.mark.database

CSV = (
    "PC ID,PC名,PCグループ,処理\n"
    "pc-1,総務課-01,本庁3階,更新\n"  # renamed and grouped
    "pc-2,,なし,\n"  # already in no group: nothing to do
    "pc-9,x,,更新\n"  # no such PC
    "pc-2,,,停止\n"  # unknown action (and pc-2 again)
    "pc-2,,,失効\n"  # pc-2 a third time
)


async def _group_of(gw: RunningGateway, host_id: str) -> str | None:
    async with database(gw) as s:
        query = select(HostGroup.name).join(Host, Host.host_group_id == HostGroup.id).where(Host.id == host_id)
        return (await s.execute(query)).scalar_one_or_none()


async def test_a_pc_csv_is_previewed_then_applied_by_a_job(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        status, page = await post_file(b, "/admin/pcs/import", CSV.encode("cp932"))  # as Excel saves it
        assert status == 200, page[:500]
        text = text_of(page)
        assert count_of(page, "update") == "1件" and count_of(page, "unchanged") == "1件"
        assert count_of(page, "error") == "3件" and count_of(page, "revoke") == "0件"
        assert "自席PC「pc-9」は登録されていません" in text and "処理「停止」は使えません" in text
        assert "このPCは3行目にもあります" in text
        assert "PC名: PC pc-1 → 総務課-01" in text and "PCグループ: （空欄） → 本庁3階" in text
        async with database(gateway) as s:  # nothing changed yet
            assert (await s.get(Host, "pc-1")).name == "PC pc-1"  # type: ignore[union-attr]

        job_id = await confirm(b, staged_path(page))
        assert (await finished(b, job_id))["state"] == "done"
        status, page, _r = await b.get(f"/admin/jobs/{job_id}")
        assert status == 200 and count_of(page, "update") == "1件" and "CSVファイルで自席PCを一括更新" in page

    async with database(gateway) as s:
        assert (await s.get(Host, "pc-1")).name == "総務課-01"  # type: ignore[union-attr]
    assert await _group_of(gateway, "pc-1") == "本庁3階" and await _group_of(gateway, "pc-2") is None
    [renamed] = await events(gateway, "host_renamed")
    assert renamed.subject == "pc-1" and renamed.actor == "root"
    assert len(await events(gateway, "host_group_changed")) == 1
    [summary] = await events(gateway, "pcs_imported")
    assert json.loads(summary.details or "{}")["counts"] == {"update": 1, "unchanged": 1, "error": 3}


async def test_revoking_by_csv_revokes_the_certificate_once(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        data = "host_id,action\npc-2,revoke\n"
        status, page = await post_file(b, "/admin/pcs/import", data.encode())
        assert status == 200 and count_of(page, "revoke") == "1件"
        job_id = await confirm(b, staged_path(page))
        assert (await finished(b, job_id))["state"] == "done"
        # The same file again: already revoked, nothing to apply (no confirmation offered).
        status, page = await post_file(b, "/admin/pcs/import", data.encode())
        assert status == 200 and count_of(page, "unchanged") == "1件" and "/admin/pcs/import/" not in page
    async with database(gateway) as s:
        host = await s.get(Host, "pc-2")
        assert host is not None
        cert = await s.get(Certificate, host.cert_fingerprint)
        assert cert is not None and cert.revoked_at is not None
    assert len(await events(gateway, "host_revoked")) == 1


async def test_the_pc_csv_is_the_whole_organisations(gateway: RunningGateway) -> None:
    """A delegated administrator, the helpdesk and auditors cannot use it, even by crafted requests."""
    await add_console_users(gateway)
    async with database(gateway) as s:
        await set_scope(s, "hd", [1], [])
    for login_id in ("hd", "aud"):
        async with await logged_in(gateway, login_id) as b:
            assert (await b.get("/admin/pcs/import"))[0] == 403
            status, _page = await post_file(b, "/admin/pcs/import", b"host_id,name\npc-1,x\n")
            assert status == 403
            assert (await post(b, "/admin/pcs/import/" + "0" * 32, {}))[0] == 403
    async with database(gateway) as s:
        assert (await s.get(Host, "pc-1")).name == "PC pc-1"  # type: ignore[union-attr]
