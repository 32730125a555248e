"""The audit trail: hash chain, tamper detection, purge with anchor, export, syslog to a real listener."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jiseki.config import AuditConfig, Config, GatewayConfig
from jiseki.gateway import audit
from jiseki.gateway.audit.chain import ChainRecord, Head
from jiseki.gateway.audit.export import write_csv, write_jsonl
from jiseki.gateway.audit.store import purge_before, records_between, seal, verify_chain
from jiseki.gateway.audit.syslog import Destination, SyslogForwarder, format_rfc5424
from jiseki.gateway.db.models import utcnow
from jiseki.gateway.state import GatewayState, open_state

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

KINDS = ("login", "device_refused", "session_start", "session_end", "clipboard")


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[GatewayState]:
    config = Config(gateway=GatewayConfig(data_dir=tmp_path / "gw"))
    st = await open_state(config)
    for i in range(30):
        await audit.record(
            st.db,
            KINDS[i % len(KINDS)],
            "ok" if i % 3 else "denied",
            actor=f"k{i:03d}",
            subject="pc-1",
            address="10.0.0.7",
            n=i,
            note='日本語 "quoted" ]',
        )
    await seal(st.db, st.audit_head)
    yield st
    await st.engine.dispose()


def _db(st: GatewayState) -> sqlite3.Connection:
    return sqlite3.connect(st.config.gateway.data_dir / "jiseki.db")


async def test_untouched_chain_verifies(state: GatewayState) -> None:
    result = await verify_chain(state.db)
    assert result.ok and result.checked == 30


@pytest.mark.parametrize("row", [1, 12, 30])
async def test_editing_a_row_breaks_the_chain_at_that_row(state: GatewayState, row: int) -> None:
    with _db(state) as db:
        db.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = ?", (row,))
    result = await verify_chain(state.db)
    assert not result.ok and result.first_bad_seq == row and "edited" in result.problem
    assert result.head is not None and result.head.seq == 30  # printed for comparison all the same


async def test_deleting_a_row_is_named(state: GatewayState) -> None:
    with _db(state) as db:
        db.execute("DELETE FROM audit_events WHERE seq = 17")
    result = await verify_chain(state.db)
    assert not result.ok and result.first_bad_seq == 18 and "17..17 are missing" in result.problem


async def test_reordering_rows_is_detected(state: GatewayState) -> None:
    with _db(state) as db:
        db.execute("UPDATE audit_events SET seq = -1 WHERE seq = 5")
        db.execute("UPDATE audit_events SET seq = 5 WHERE seq = 6")
        db.execute("UPDATE audit_events SET seq = 6 WHERE seq = -1")
    result = await verify_chain(state.db)
    assert not result.ok and result.first_bad_seq == 5


async def test_editing_the_time_or_recomputing_one_hash_is_detected(state: GatewayState) -> None:
    with _db(state) as db:
        # An attacker who edits a row and recomputes *its* hash still breaks the next link.
        r = db.execute(
            "SELECT id, seq, ts, kind, outcome, actor, subject, address, details, prev_hash FROM "
            "audit_events WHERE seq = 9"
        ).fetchone()
    from jiseki.gateway.audit.chain import record_hash
    from jiseki.gateway.db.models import AuditEvent

    async with state.db.begin() as s:
        row = await s.get(AuditEvent, r[0])
        assert row is not None
        row.details = json.dumps({"n": 999})
        row.hash = record_hash(
            row.seq or 0,
            row.id,
            row.ts,
            row.kind,
            row.outcome,
            row.actor,
            row.subject,
            row.address,
            row.details,
            row.prev_hash or "",
        )
    result = await verify_chain(state.db)
    assert not result.ok and result.first_bad_seq == 10 and "previous record" in result.problem


async def test_purge_keeps_the_chain_verifiable(state: GatewayState) -> None:
    with _db(state) as db:
        db.execute("UPDATE audit_events SET ts = '2020-01-01 00:00:00.000000' WHERE seq <= 10")
    deleted = await purge_before(state.db, dt.datetime(2021, 1, 1, tzinfo=dt.UTC), "test")
    assert deleted == 10
    result = await verify_chain(state.db)
    assert result.ok and result.checked == 21  # 20 left + the purge's own record
    with _db(state) as db:
        db.execute("DELETE FROM audit_events WHERE seq = 11")  # the first after the anchor
    assert not (await verify_chain(state.db)).ok


def _head_of(st: GatewayState, seq: int) -> Head:
    with _db(st) as db:
        row = db.execute("SELECT hash FROM audit_events WHERE seq = ?", (seq,)).fetchone()
    return Head(seq, row[0])


async def _more_records(st: GatewayState, n: int) -> None:
    for i in range(n):
        await audit.record(st.db, "login", "ok", actor=f"m{i:03d}")
    await seal(st.db, st.audit_head)


async def test_the_head_is_kept_outside_the_database(state: GatewayState) -> None:
    path = state.config.gateway.data_dir / "audit" / "head.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text()) == {"seq": 30, "hash": _head_of(state, 30).hash}
    result = await verify_chain(state.db, state.audit_head)
    assert result.ok and result.head == _head_of(state, 30)


async def test_deleting_the_newest_records_is_detected(state: GatewayState) -> None:
    head = _head_of(state, 30)
    with _db(state) as db:
        db.execute("DELETE FROM audit_events WHERE seq > 10")
    assert (await verify_chain(state.db)).ok  # the database alone cannot tell...
    result = await verify_chain(state.db, state.audit_head)  # ...the head this node recorded can
    assert not result.ok and "11..30" in result.problem and "missing at the end" in result.problem
    result = await verify_chain(state.db, expect=[head])  # so can an external copy (the SIEM's last record)
    assert not result.ok and "11..30" in result.problem
    assert result.head == _head_of(state, 10)


async def test_sealing_after_deleted_newest_records_keeps_the_gap(state: GatewayState) -> None:
    with _db(state) as db:
        db.execute("DELETE FROM audit_events WHERE seq > 25")
    await _more_records(state, 2)  # sealed as 31 and 32: the gap stays in the chain itself
    result = await verify_chain(state.db)
    assert not result.ok and result.first_bad_seq == 31 and "26..30 are missing" in result.problem


async def test_rewritten_newest_records_are_detected(state: GatewayState) -> None:
    from jiseki.gateway.audit.chain import record_hash

    head = _head_of(state, 30)
    with _db(state) as db:  # rewrite record 30 and recompute its hash: the chain alone is consistent
        r = db.execute(
            "SELECT seq, id, ts, kind, outcome, actor, subject, address, details, prev_hash "
            "FROM audit_events WHERE seq = 30"
        ).fetchone()
    async with state.db.begin() as s:
        from jiseki.gateway.db.models import AuditEvent

        row = await s.get(AuditEvent, r[1])
        assert row is not None
        row.actor = "someone-else"
        row.hash = record_hash(
            30,
            row.id,
            row.ts,
            row.kind,
            row.outcome,
            row.actor,
            row.subject,
            row.address,
            row.details,
            row.prev_hash or "",
        )
    assert (await verify_chain(state.db)).ok
    result = await verify_chain(state.db, state.audit_head)
    assert not result.ok and result.first_bad_seq == 30 and "head" in result.problem
    await _more_records(state, 1)  # the sealer goes on, but keeps the head it recorded as evidence
    assert json.loads(state.audit_head.path.read_text())["hash"] == head.hash
    assert not (await verify_chain(state.db, state.audit_head)).ok


async def test_a_damaged_head_file_is_reported_and_kept(state: GatewayState) -> None:
    from jiseki.gateway.audit.head import HeadFileError

    assert state.audit_head is not None
    state.audit_head.path.write_text("{not json")
    await _more_records(state, 1)  # sealing goes on...
    assert state.audit_head.path.read_text() == "{not json"  # ...without overwriting the evidence
    with pytest.raises(HeadFileError, match="damaged"):
        await verify_chain(state.db, state.audit_head)


async def test_a_moved_anchor_needs_a_purge_record(state: GatewayState) -> None:
    await _more_records(state, 90)  # 120 records
    anchor = _head_of(state, 100)
    with _db(state) as db:
        db.execute("DELETE FROM audit_events WHERE seq <= 100")
        db.execute("UPDATE audit_anchor SET last_seq = ?, last_hash = ?", (anchor.seq, anchor.hash))
    result = await verify_chain(state.db, state.audit_head)
    assert not result.ok and "purge record" in result.problem and result.first_bad_seq == 101


async def test_a_real_purge_names_its_anchor(state: GatewayState) -> None:
    await _more_records(state, 90)
    with _db(state) as db:
        db.execute("UPDATE audit_events SET ts = '2020-01-01 00:00:00.000000' WHERE seq <= 100")
    assert await purge_before(state.db, dt.datetime(2021, 1, 1, tzinfo=dt.UTC), "test", state.audit_head) == 100
    result = await verify_chain(state.db, state.audit_head)
    assert result.ok and result.checked == 21, result
    with _db(state) as db:
        [details] = db.execute("SELECT details FROM audit_events WHERE kind = 'audit_purged'").fetchone()
        [anchor_hash] = db.execute("SELECT last_hash FROM audit_anchor").fetchone()
    assert json.loads(details)["anchor_seq"] == 100 and json.loads(details)["anchor_hash"] == anchor_hash
    # A purge record does not make any anchor acceptable: only the one it names.
    with _db(state) as db:
        db.execute("DELETE FROM audit_events WHERE seq <= 105")
        db.execute("UPDATE audit_anchor SET last_seq = 105, last_hash = 'x'")
    assert not (await verify_chain(state.db, state.audit_head)).ok


async def test_export_csv_for_excel_and_jsonl(state: GatewayState) -> None:
    records = [r async for r in records_between(state.db, None, None)]
    out = io.StringIO(newline="")
    assert write_csv(records, out) == 30
    text = out.getvalue()
    assert text.startswith("\ufeff") and "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0]["seq"] == "1" and rows[0]["time_jst"].endswith("+09:00")
    assert "日本語" in rows[0]["details"]
    lines = io.StringIO()
    write_jsonl(records[:3], lines)
    first = json.loads(lines.getvalue().splitlines()[0])
    assert first["details"]["n"] == 0 and len(first["hash"]) == 64


async def test_export_cli_by_date_and_verify_cli(state: GatewayState, tmp_path: Path) -> None:
    config = tmp_path / "j.toml"
    config.write_text(f'[gateway]\ndata_dir = "{state.config.gateway.data_dir}"\n', "utf-8")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()
    out = tmp_path / "audit.csv"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jiseki", *args, "--config", str(config)], capture_output=True, text=True
        )

    result = run(
        "audit",
        "export",
        "--from",
        today.isoformat(),
        "--to",
        (today + dt.timedelta(days=1)).isoformat(),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert len(out.read_text("utf-8-sig").splitlines()) == 31
    assert run("audit", "verify").returncode == 0
    with _db(state) as db:
        db.execute("UPDATE audit_events SET outcome = 'denied' WHERE seq = 3")  # it was "ok"
    result = run("audit", "verify")
    assert result.returncode == 3 and "seq 3" in result.stdout and "BROKEN" in result.stdout
    with _db(state) as db:
        db.execute("UPDATE audit_events SET outcome = 'ok' WHERE seq = 3")
    head = _head_of(state, 30)
    result = run("audit", "verify")
    assert result.returncode == 0 and f"head: seq 30 hash {head.hash}" in result.stdout, result.stdout
    assert run("audit", "verify", "--expect-head", f"30:{head.hash}").returncode == 0
    assert run("audit", "verify", "--expect-head", f"31:{head.hash}").returncode == 3
    result = run("audit", "verify", "--expect-head", "thirty")
    assert result.returncode == 1 and "SEQ:HASH" in result.stderr
    (state.config.gateway.data_dir / "audit" / "head.json").write_text("{")
    result = run("audit", "verify")
    assert result.returncode == 1 and "damaged" in result.stderr and "move it away" in result.stderr
    assert run("audit", "export", "--from", "yesterday").returncode == 1


RFC5424 = re.compile(
    r"^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) jiseki - (\S{1,32}) "
    r'\[jiseki@32473( [a-z]+="(?:[^"\\\]]|\\.)*")+\]( \ufeff.*)?$'
)


def test_rfc5424_format() -> None:
    record = ChainRecord(
        5,
        7,
        dt.datetime(2026, 11, 27, 0, 30, tzinfo=dt.UTC),
        "login",
        "denied",
        "k001",
        None,
        "10.0.0.7",
        json.dumps({"reason": 'a "b" ]c'}),
        "0" * 64,
        "f" * 64,
    )
    line = format_rfc5424(record, "gw-01").decode()
    assert RFC5424.match(line), line
    assert line.startswith('<132>1 2026-11-27T00:30:00.000000Z gw-01 jiseki - login [jiseki@32473 seq="7"')
    assert 'outcome="denied"' in line and "\\]c" not in line.split("\ufeff")[1]


async def test_syslog_tcp_listener_receives_every_record(state: GatewayState) -> None:
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # octet-counting framing: "<length> <message>"
            head = await reader.readuntil(b" ") if not reader.at_eof() else b""
            if not head:
                break
            received.append(await reader.readexactly(int(head)))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    forwarder = SyslogForwarder(state.db, Destination.parse(f"tcp://127.0.0.1:{port}"), "gw-01")
    try:
        assert await forwarder.forward() == 30
        await audit.record(state.db, "logout", "ok", actor="k001")
        await seal(state.db)
        assert await forwarder.forward() == 1  # only the new one
        for _ in range(50):
            if len(received) == 31:
                break
            await asyncio.sleep(0.05)
    finally:
        forwarder.close()
        server.close()
    assert len(received) == 31
    assert all(RFC5424.match(m.decode()) for m in received)
    assert b"logout" in received[-1]


async def test_syslog_udp_listener(state: GatewayState) -> None:
    loop = asyncio.get_running_loop()
    got: list[bytes] = []

    class Listener(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            got.append(data)

    transport, _ = await loop.create_datagram_endpoint(Listener, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    forwarder = SyslogForwarder(state.db, Destination.parse(f"udp://127.0.0.1:{port}"), "gw-01")
    try:
        assert await forwarder.forward() == 30
        for _ in range(50):
            if len(got) == 30:
                break
            await asyncio.sleep(0.05)
    finally:
        forwarder.close()
        transport.close()
    assert len(got) == 30 and all(RFC5424.match(g.decode()) for g in got)


def test_syslog_url_validation() -> None:
    assert Destination.parse("tls://siem.pref.lg.jp").port == 6514
    with pytest.raises(ValueError, match="udp://host:514"):
        Destination.parse("http://siem")
    from jiseki.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"audit\.syslog_url"):
        parse_config({"audit": {"syslog_url": "ftp://x"}})
    assert AuditConfig().retention_days == 0


async def test_events_are_sealed_by_the_running_gateway(tmp_path: Path) -> None:
    from jiseki.gateway.server import serve
    from tests.conftest import free_port

    config = Config(gateway=GatewayConfig(port=free_port(), data_dir=tmp_path / "gw"))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop))
    await asyncio.sleep(1.0)
    st = await open_state(config)
    try:
        await audit.record(st.db, "login", "ok", actor="k001")
        head_file = tmp_path / "gw" / "audit" / "head.json"

        def sealed_and_recorded() -> bool:
            with sqlite3.connect(tmp_path / "gw" / "jiseki.db") as db:
                if db.execute("SELECT count(*) FROM audit_events WHERE hash IS NULL").fetchone()[0]:
                    return False
                seq, digest = db.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
            # The node records the head it sealed outside the database.
            return head_file.exists() and json.loads(head_file.read_text()) == {"seq": seq, "hash": digest}

        for _ in range(40):
            if sealed_and_recorded():
                break
            await asyncio.sleep(0.1)
        assert sealed_and_recorded()
        assert utcnow()
    finally:
        await st.engine.dispose()
        stop.set()
        await task
