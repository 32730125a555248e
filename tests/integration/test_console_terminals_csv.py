"""Console: telework terminals registered from a CSV file — preview with per-row Japanese errors, then
one ZIP archive (a PKCS#12 bundle per terminal, and the list with their passwords, neutralised) made in
the confirming request, kept nowhere, audited as one event; the limit per file; a raced registration."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import zipfile
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.gateway import admin
from jiseki.gateway.admin import AdminError
from jiseki.gateway.admin import terminals as admin_terminals
from jiseki.gateway.admin.terminals import Made
from jiseki.gateway.db.models import Certificate, Terminal
from jiseki.gateway.pki import CertificateAuthority, identity_of
from jiseki.gateway.terminals_csv import MAX_TERMINALS, TerminalRow

from .conftest import Browser, RunningGateway
from .console_support import add_console_users, database, events, logged_in, post, post_file, text_of
from .test_console_flows import _data_url

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

CSV_TEXT = (
    "端末名,端末ID,備考\r\n"
    "総務課 貸出用1,,山田さんへ\r\n"
    '=HYPERLINK("http://x"),SOUMU-02,@SUM(1)\r\n'
    "総務課 貸出用3,,\r\n"
    ",BAD-NAME,\r\n"  # no name
    "不正なID,bad id!,\r\n"
    "重複,SOUMU-02,\r\n"
    "既存,T-OLD,\r\n"
)
_STAGED = re.compile(r'action="/admin/terminals/import/([0-9a-f]{32})"')


def _ca(gw: RunningGateway) -> CertificateAuthority:
    return CertificateAuthority(gw.config.gateway.data_dir / "pki", gw.config.gateway.ca_passphrase.encode() or None)


async def test_admin_registers_terminals_from_a_csv_and_downloads_one_archive(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with database(gateway) as s:
        await admin.issue_terminal_pkcs12(s, _ca(gateway), "T-OLD", "既存の端末", dt.timedelta(days=30), "root")
    async with await logged_in(gateway, "root") as b:
        status, page = await post_file(b, "/admin/terminals/import", CSV_TEXT.encode("cp932"))  # as Excel saves it
        text = text_of(page)
        assert status == 200 and "3台の端末を登録できます。" in text and "4行にエラーがあり" in text, text[:800]
        assert "（登録時に自動で付与）" in text
        for message in ("名称は1〜255文字", "端末ID「bad id!」は使えません", "端末ID「SOUMU-02」は3行目にもあります"):
            assert message in text, message
        assert "端末ID「T-OLD」はすでに使われています" in text
        staged = _STAGED.search(page)
        assert staged
        status, page = await _confirm(b, staged.group(1))
        assert status == 200 and "3台の端末を登録しました" in text_of(page)
        mime, archive = _data_url(page)
        assert mime == "application/zip"
        # The same preview cannot be confirmed twice.
        assert (await _confirm(b, staged.group(1)))[0] == 410
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        names = sorted(z.namelist())
        listing = z.read("terminals.csv").decode("utf-8")
        files = {name: z.read(name) for name in names if name.endswith(".p12")}
    assert listing.startswith("\ufeff") and len(files) == 3 and "terminals.csv" in names
    rows = list(csv.reader(io.StringIO(listing.lstrip("\ufeff"))))
    assert rows[0] == ["端末ID", "端末名", "備考", "ファイル名", "パスワード"]
    by_name = {r[1]: r for r in rows[1:]}
    assert set(by_name) == {"総務課 貸出用1", '\'=HYPERLINK("http://x")', "総務課 貸出用3"}  # neutralised
    formula = by_name['\'=HYPERLINK("http://x")']
    assert formula[0] == "SOUMU-02" and formula[2] == "'@SUM(1)"
    assert by_name["総務課 貸出用1"][2] == "山田さんへ" and re.fullmatch(r"T-[A-Z2-9]{8}", by_name["総務課 貸出用1"][0])
    ca = _ca(gateway)
    issuing = x509.load_pem_x509_certificate(ca.issuing_cert_path.read_bytes())
    now = dt.datetime.now(dt.UTC)
    for terminal_id, _name, _note, filename, password in rows[1:]:
        key, cert, chain = pkcs12.load_key_and_certificates(files[filename], password.encode())
        assert isinstance(key, ec.EllipticCurvePrivateKey) and cert is not None
        assert identity_of(cert) == ("terminal", terminal_id)
        cert.verify_directly_issued_by(issuing)
        assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
        assert len(chain) == 2
    async with database(gateway) as s:
        before = {"term-1", "term-2", "T-OLD"}  # the test gateway's terminals, and the one registered above
        stored = {t.id: t for t in (await s.execute(select(Terminal))).scalars()}
        assert set(stored) == before | {r[0] for r in rows[1:]}
        assert all(t.state == "active" for t in stored.values()) and stored["SOUMU-02"].name.startswith("=HYPERLINK")
        owners = set((await s.execute(select(Certificate.owner_id).where(Certificate.kind == "terminal"))).scalars())
        assert owners >= {r[0] for r in rows[1:]}
    # Kept nowhere: neither a password nor a bundle is in the database files.
    data = b"".join(p.read_bytes() for p in gateway.config.gateway.data_dir.glob("jiseki.db*"))
    assert all(r[4].encode() not in data for r in rows[1:]) and all(f[-48:] not in data for f in files.values())
    [event] = await events(gateway, "terminals_registered")
    details = json.loads(event.details or "{}")
    assert event.actor == "root" and details["after"]["count"] == 3 and details["method"] == "pkcs12"
    assert all(r[4] not in (event.details or "") for r in rows[1:])
    assert [e.subject for e in await events(gateway, "terminal_registered")] == ["T-OLD"]  # one event for the CSV


async def _confirm(b: Browser, staged_id: str) -> tuple[int, str]:
    status, page, _location = await post(b, f"/admin/terminals/import/{staged_id}", {})
    return status, page


async def test_the_number_of_terminals_per_file_is_limited_and_only_admins_import(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    lines = "端末名\r\n" + "".join(f"端末{i}\r\n" for i in range(MAX_TERMINALS + 2))
    async with await logged_in(gateway, "root") as b:
        status, page = await post_file(b, "/admin/terminals/import", lines.encode())
        text = text_of(page)
        assert status == 200 and f"{MAX_TERMINALS}台の端末を登録できます。" in text and "2行にエラー" in text
        assert f"一度に登録できる端末は{MAX_TERMINALS}台までです。" in text
        status, page = await post_file(b, "/admin/terminals/import", b"\x00\x01binary")
        assert status == 400 and "UTF-8" in text_of(page)
    async with await logged_in(gateway, "hd") as b:
        assert (await b.get("/admin/terminals/import"))[0] == 403
        assert (await post_file(b, "/admin/terminals/import", "端末名\r\nx\r\n".encode()))[0] == 403
    async with database(gateway) as s:
        assert (await s.execute(select(Terminal).where(Terminal.name.like("端末%")))).first() is None


async def test_two_registrations_of_the_same_terminal_id_register_it_once(gateway: RunningGateway) -> None:
    ca = _ca(gateway)
    rows = [TerminalRow(2, "RACE-01", "競合する端末", "")]
    made = [admin.make_terminal_bundles(ca, rows, dt.timedelta(days=30)) for _ in range(2)]
    barrier = asyncio.Barrier(2)

    async def register(one: Made) -> str:
        try:
            async with database(gateway) as s:
                await barrier.wait()  # both transactions are open before either writes
                await admin.register_terminals_pkcs12(s, one, "root", filename="race.csv")
        except AdminError as exc:
            return exc.msgid
        return "registered"

    outcomes = await asyncio.gather(*(register(m) for m in made))
    assert sorted(outcomes) == sorted(["registered", "The terminal ID “{value}” already exists."])
    async with database(gateway) as s:
        assert (await s.get(Terminal, "RACE-01")) is not None
        owners = (await s.execute(select(Certificate.owner_id).where(Certificate.owner_id == "RACE-01"))).all()
        assert len(owners) == 1
    assert len(await events(gateway, "terminals_registered")) == 1


async def test_a_registration_overtaken_after_its_check_refuses(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-terminal form: another request registers the same ID between this request's check and its
    write. This one must refuse, not quietly re-issue (and so revoke) the other's new certificate."""
    ca = _ca(gateway)
    checked, overtaken = asyncio.Event(), asyncio.Event()
    real_check = admin_terminals._terminal_before

    async def check_then_wait(s: AsyncSession, terminal_id: str, reissue: bool) -> dict[str, Any] | None:
        before = await real_check(s, terminal_id, reissue)
        checked.set()
        await overtaken.wait()
        return before

    async def slow() -> str:
        try:
            async with database(gateway) as s:
                await admin.issue_terminal_pkcs12(s, ca, "RACE-02", "遅い方", dt.timedelta(days=30), "root")
        except AdminError as exc:
            return exc.msgid
        return "registered"

    monkeypatch.setattr(admin_terminals, "_terminal_before", check_then_wait)
    slow_one = asyncio.create_task(slow())
    await checked.wait()
    monkeypatch.setattr(admin_terminals, "_terminal_before", real_check)
    async with database(gateway) as s:
        await admin.issue_terminal_pkcs12(s, ca, "RACE-02", "速い方", dt.timedelta(days=30), "root")
    overtaken.set()
    assert await slow_one == "The terminal ID “{value}” already exists."
    async with database(gateway) as s:
        terminal = await s.get(Terminal, "RACE-02")
        assert terminal is not None and terminal.name == "速い方" and terminal.state == "active"
        certs = (await s.execute(select(Certificate).where(Certificate.owner_id == "RACE-02"))).scalars().all()
        assert len(certs) == 1 and certs[0].revoked_at is None
    assert len(await events(gateway, "terminal_registered")) == 1
