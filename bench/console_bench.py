"""How fast the admin console works at prefecture scale (a benchmark, not a test).

    .venv/bin/python -m bench.console_bench [--staff 5000] [--pcs 5000] [--sessions 100000] [--repeat 20]

A gateway process (SQLite, TLS) is filled with staff, PCs with certificates and assignments, 30
days of sessions and audit events; then an administrator's client, over TLS with a terminal
certificate:
- loads each list page `--repeat` times (median, 95th percentile, largest time from sending the
  request to the last byte, and the size);
- downloads each export (audit log, session history, usage report; CSV and XLSX) 3 times;
- imports a staff CSV of 4,300 new accounts and one of 1,000 April transfers: the preview's time and
  the background job's, from the confirmation to the end, as the progress page polls it;
- previews a bulk action on 200 staff found by a search;
- times one look of the scheduled power-on (every department wakes its PCs before 08:30).
Results also go to bench/results/console-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, update

from jiseki.config import AgentConfig, Config, GatewayConfig
from jiseki.demo.run import wait_for_port, write_config
from jiseki.gateway import wake_schedule
from jiseki.gateway.auth import totp
from jiseki.gateway.auth.passwords import hash_password
from jiseki.gateway.certs import record_issued
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import (
    Assignment,
    AuditEvent,
    Certificate,
    Department,
    Host,
    Session,
    User,
    utcnow,
)
from jiseki.gateway.pki import client_ssl_context, write_private
from jiseki.gateway.policies_db import set_policy
from jiseki.gateway.state import open_state
from jiseki.gateway.terminals import _upsert
from jiseki.i18n import JST
from tests.conftest import free_port

PAGES = [
    ("staff, page 1", "/admin/staff"),
    ("staff, page 50", "/admin/staff?page=50"),
    ("staff, last page", "/admin/staff?page=100"),
    ("staff, search by name", "/admin/staff?q=山田"),
    ("staff, search by ID", "/admin/staff?q=k04"),
    ("staff, locked only", "/admin/staff?state=locked"),
    ("staff, by last login", "/admin/staff?sort=last_login"),
    ("PCs, page 1", "/admin/pcs"),
    ("PCs, last page", "/admin/pcs?page=100"),
    ("PCs, search", "/admin/pcs?q=3F"),
    ("PCs, online only", "/admin/pcs?state=online"),
    ("PCs, in use only", "/admin/pcs?state=in_use"),
    ("dashboard (30-day chart)", "/admin"),
    ("sessions (live + history)", "/admin/sessions"),
    ("audit log", "/admin/audit"),
    ("one account", "/admin/account/k00042"),
    ("one PC", "/admin/pc/pc-00042"),
    ("staff, search by reading", "/admin/staff?q=やまだ"),
    ("staff, one department", "/admin/staff?department=7"),
    ("session history, page 1", "/admin/history"),
    ("session history, one week, one department", "/admin/history?from={week}&to={today}&department=7"),
    ("audit log, logins of one week", "/admin/audit?kind=login&from={week}&to={today}"),
    ("usage report, 30 days by department", "/admin/reports?group=department"),
    ("recordings", "/admin/recordings"),
]
EXPORTS = [
    ("audit log, one week (CSV)", "/admin/audit/export?format=csv&from={week}&to={today}"),
    ("audit log, one week (XLSX)", "/admin/audit/export?format=xlsx&from={week}&to={today}"),
    ("session history, one week (CSV)", "/admin/history/export?format=csv&from={week}&to={today}"),
    ("session history, one week (XLSX)", "/admin/history/export?format=xlsx&from={week}&to={today}"),
    ("usage report by person, 30 days (CSV)", "/admin/reports/export?format=csv&group=user"),
    ("usage report by person, 30 days (XLSX)", "/admin/reports/export?format=xlsx&group=user"),
]
SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"]
READINGS = dict(
    zip(
        SURNAMES,
        ["やまだ", "さとう", "すずき", "たかはし", "たなか", "いとう", "わたなべ", "なかむら", "こばやし", "かとう"],
        strict=True,
    )
)
GIVEN = ["太郎", "花子", "一郎", "美咲", "健", "陽子", "大輔", "直美"]


async def fill(config: Config, root: Path, staff: int, pcs: int, sessions: int) -> tuple[str, str]:
    """The data; returns the administrator's TOTP secret and password."""
    state = await open_state(config)
    password = "Bench-Admin-7-Password"
    secret = totp.new_secret()
    rnd = random.Random(7)
    now = utcnow()
    shared_hash = hash_password("Bench-Staff-7-Password")  # one argon2 hash for every row: filling stays quick
    try:
        async with state.db.begin() as s:
            await s.execute(
                insert(Department), [{"id": i + 1, "name": f"部署{i + 1:03d}課", "created_at": now} for i in range(80)]
            )
            users = [
                {
                    "id": f"k{i:05d}",
                    "display_name": f"{(surname := rnd.choice(SURNAMES))} {rnd.choice(GIVEN)}",
                    "reading": READINGS[surname],
                    "department_id": rnd.randint(1, 80),
                    "role": "staff",
                    "password_hash": shared_hash,
                    "password_changed_at": now,
                    "must_change_password": False,
                    "totp_enabled": True,
                    "totp_last_step": 0,
                    "failed_logins": 0,
                    "locked_until": now + dt.timedelta(minutes=5) if i % 97 == 0 else None,
                    "disabled": i % 211 == 0,
                    "created_at": now,
                    "last_login_at": now - dt.timedelta(minutes=rnd.randint(0, 60 * 24 * 30)),
                }
                for i in range(staff)
            ]
            await s.execute(insert(User), users)
            hosts, certs = [], []
            for i in range(pcs):
                fp = hashlib.sha256(f"pc-{i}".encode()).hexdigest()
                hosts.append(
                    {
                        "id": f"pc-{i:05d}",
                        "name": f"本庁{i % 9 + 1}F 部署{i % 80 + 1:03d}課 {i:05d}",
                        "cert_fingerprint": fp,
                        "cert_serial": fp[:32],
                        "hostname": f"DESK{i:05d}",
                        "os": "Windows 11 Pro 23H2",
                        "online": i % 3 != 0,
                        "locked": i % 7 == 0,
                        "agent_version": "0.1.0",
                        "signed_in_user": f"k{i:05d}" if i % 3 != 0 else None,
                        "last_seen": now - dt.timedelta(minutes=rnd.randint(0, 600)),
                        "created_at": now,
                    }
                )
                certs.append(
                    {
                        "fingerprint": fp,
                        "serial": fp[:32],
                        "kind": "agent",
                        "owner_id": f"pc-{i:05d}",
                        "not_before": now,
                        "not_after": now + dt.timedelta(days=825),
                        "issued_at": now,
                        "revoked_at": now if i % 500 == 0 else None,
                    }
                )
            await s.execute(insert(Host), hosts)
            await s.execute(insert(Certificate), certs)
            await s.execute(
                insert(Assignment),
                [{"user_id": f"k{i:05d}", "host_id": f"pc-{i % pcs:05d}", "created_at": now} for i in range(staff)],
            )
            rows = []
            for n in range(sessions):
                started = now - dt.timedelta(seconds=rnd.randint(0, 30 * 86400))
                live = n < 300
                rows.append(
                    {
                        "id": f"{n:032x}",
                        "host_id": f"pc-{rnd.randrange(pcs):05d}",
                        "state": "live" if live else "ended",
                        "created_at": started,
                        "started_at": started,
                        "ended_at": None if live else started + dt.timedelta(hours=2),
                        "end_reason": None if live else "viewer_closed",
                        "bytes_to_viewer": rnd.randint(10**6, 10**9),
                        "bytes_to_agent": rnd.randint(10**4, 10**6),
                        "updates": 1000,
                        "user_id": f"k{rnd.randrange(staff):05d}",
                        "terminal_id": "bench-terminal",
                    }
                )
                if len(rows) == 10_000:
                    await s.execute(insert(Session), rows)
                    rows = []
            if rows:
                await s.execute(insert(Session), rows)
            await s.execute(
                insert(AuditEvent),
                [
                    {
                        "ts": now - dt.timedelta(seconds=i),
                        "kind": "login",
                        "outcome": "ok",
                        "actor": f"k{i % staff:05d}",
                    }
                    for i in range(20_000)
                ],
            )
            s.add(
                User(
                    id="bench-admin",
                    display_name="ベンチ 管理者",
                    role="admin",
                    password_hash=hash_password(password),
                    totp_secret=state.box.seal(secret),
                    totp_enabled=True,
                )
            )
            issued = state.ca.issue_client_cert("terminal", "bench-terminal", dt.timedelta(days=1))
            await _upsert(s, "bench-terminal", "ベンチ端末", issued.fingerprint)
            await s.flush()
            await record_issued(s, issued.cert, "terminal", "bench-terminal")
            write_private(root / "terminal.crt", issued.cert_pem)
            write_private(root / "terminal.key", issued.key_pem)
    finally:
        await state.engine.dispose()
    return secret, password


def dated(path: str) -> str:
    """A path with {today} and {week} (six days before) as JST dates."""
    today = dt.datetime.now(JST).date()
    return path.format(today=today.isoformat(), week=(today - dt.timedelta(days=6)).isoformat())


class Console:
    """The administrator's client: TLS with the terminal certificate, the console's cookie and token."""

    def __init__(self, http: aiohttp.ClientSession, base: str, ssl_ctx: Any) -> None:
        self.http, self.base, self.ssl = http, base, ssl_ctx
        self.token = ""

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self.http.get(self.base + path, ssl=self.ssl, allow_redirects=False) as r:
            return r.status, await r.read()

    async def post(self, path: str, data: Any) -> tuple[int, str, str]:
        headers = {"Origin": self.base}
        async with self.http.post(
            self.base + path, data=data, ssl=self.ssl, headers=headers, allow_redirects=False
        ) as r:
            return r.status, await r.text(), r.headers.get("Location", "")

    async def login(self, secret: str, password: str) -> None:
        _status, page = await self.get("/login")
        token = page.decode().split('name="csrf_token" value="')[1].split('"')[0]
        form = {"csrf_token": token, "login_id": "bench-admin", "password": password}
        form["code"] = totp.code_at(secret, time.time())
        status, body, _loc = await self.post("/login", form)
        assert status == 303, body[:300]
        _status, page = await self.get("/admin")
        self.token = page.decode().split('name="csrf_token" value="')[1].split('"')[0]


def _figures(label: str, path: str, times: list[float], size: int) -> dict[str, Any]:
    times.sort()
    return {
        "page": label,
        "path": path,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, round(0.95 * len(times)) - 1)], 1),
        "max_ms": round(times[-1], 1),
        "kb": round(size / 1024, 1),
    }


async def timed(c: Console, label: str, path: str, repeat: int) -> dict[str, Any]:
    times, size = [], 0
    for i in range(repeat + 1):
        started = time.perf_counter()
        status, body = await c.get(path)
        assert status == 200, (path, status)
        if i:  # the first request warms caches and connections
            times.append((time.perf_counter() - started) * 1000)
        size = len(body)
        if os.environ.get("BENCH_DUMP") and path == os.environ["BENCH_DUMP"]:
            print(body.decode(errors="replace")[:3000])
    figures = _figures(label, path, times, size)
    print(f"  {label}: median {figures['median_ms']} ms, {figures['kb']} KB", flush=True)
    return figures


async def staff_import(c: Console, label: str, csv_text: str) -> dict[str, Any]:
    """Preview, then the job from the confirmation until the progress says done."""
    form = aiohttp.FormData()
    form.add_field("csrf_token", c.token)
    form.add_field("file", csv_text.encode(), filename="bench.csv", content_type="text/csv")
    started = time.perf_counter()
    status, page, _loc = await c.post("/admin/staff/import", form)
    preview = time.perf_counter() - started
    assert status == 200, page[:300]
    confirm = re.search(r'action="(/admin/staff/import/[0-9a-f]{32})"', page)
    assert confirm, "no confirmation form"
    started = time.perf_counter()
    status, body, location = await c.post(confirm.group(1), {"csrf_token": c.token})
    assert status == 303, body[:300]
    while True:
        status, raw = await c.get(location + "/progress")
        progress = json.loads(raw)
        if progress["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.2)
    applied = time.perf_counter() - started
    assert progress["state"] == "done", progress
    return {"import": label, "rows": progress["total"], "preview_s": round(preview, 2), "job_s": round(applied, 2)}


async def bulk_preview(c: Console, query: str) -> dict[str, Any]:
    fields = {"csrf_token": c.token, "action": "disable", "select": "all", "q": query}
    started = time.perf_counter()
    status, page, _loc = await c.post("/admin/bulk/staff", fields)
    elapsed = time.perf_counter() - started
    assert status == 200, page[:300]
    count = re.search(r'data-count="(\d+)"', page)
    return {
        "bulk": f"disable all matching “{query}” (preview)",
        "rows": int(count.group(1)) if count else None,
        "s": round(elapsed, 2),
    }


async def measure(
    base: str, root: Path, ca: Path, secret: str, password: str, repeat: int, departments: int
) -> dict[str, list[dict[str, Any]]]:
    ssl_ctx = client_ssl_context(ca, root / "terminal.crt", root / "terminal.key")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        c = Console(http, base, ssl_ctx)
        await c.login(secret, password)
        pages = [await timed(c, label, dated(path), repeat) for label, path in PAGES]
        exports = [await timed(c, label, dated(path), 3) for label, path in EXPORTS]
        creates = "ログインID,氏名,読み仮名,所属\n" + "".join(
            f"n{i:05d},新規 職員{i},しんき しょくいん,部署{i % departments + 1:03d}課\n" for i in range(4300)
        )
        moves = "ログインID,所属\n" + "".join(f"k{i:05d},部署{(i + 1) % departments + 1:03d}課\n" for i in range(1000))
        imports = [
            await staff_import(c, "4,300 new accounts", creates),
            await staff_import(c, "1,000 April transfers", moves),
        ]
        bulk = [await bulk_preview(c, "k00")]
    return {"pages": pages, "exports": exports, "imports": imports, "bulk": bulk}


async def schedule_look(config: Config, departments: int, repeat: int = 5) -> dict[str, Any]:
    """One look of the scheduled power-on (each node makes one a minute): every department's policy
    wakes 30 minutes before 08:30, every PC has reported its network; timed at 08:10 on a Monday."""
    engine = make_engine(config.gateway.effective_database_url)
    db = sessionmaker(engine)
    network = json.dumps(
        [{"mac": "52:54:00:00:00:01", "address": "10.1.0.1", "prefix": 16, "broadcast": "10.1.255.255"}]
    )
    try:
        async with db.begin() as s:
            for i in range(departments):
                settings = {"start": "08:30", "end": "17:15", "wake_before_minutes": 30}
                await set_policy(s, "department", f"部署{i + 1:03d}課", settings, "bench")
            await s.execute(update(Host).values(network=network))
        monday = dt.datetime(2027, 1, 4, 8, 10, tzinfo=JST)
        times, due = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            async with db() as s:
                due = await wake_schedule.due_hosts(s, monday)
            times.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return {
        "due": len(due),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=5000)
    parser.add_argument("--pcs", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jiseki-console-bench-") as tmp:
        root = Path(tmp)
        port = free_port()
        gateway = GatewayConfig(host="127.0.0.1", port=port, data_dir=root / "gateway")
        config = Config(gateway=gateway)
        write_config(root / "jiseki.toml", gateway, AgentConfig())
        # The gateway first: at start it marks every PC offline and every session ended (a restarted
        # node holds no sockets), so the data goes in while it runs, as an agent's reports would.
        proc = subprocess.Popen(
            [sys.executable, "-m", "jiseki", "gateway", "--config", str(root / "jiseki.toml")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ),
        )
        try:
            if not wait_for_port("127.0.0.1", port, 30):
                raise SystemExit("the gateway did not start")
            started = time.perf_counter()
            secret, password = asyncio.run(fill(config, root, args.staff, args.pcs, args.sessions))
            print(
                f"filled in {time.perf_counter() - started:.1f} s: {args.staff:,} staff, {args.pcs:,} PCs, "
                f"{args.sessions:,} sessions (300 live), 20,000 audit events"
            )
            base = f"https://127.0.0.1:{port}"
            ca = gateway.data_dir / "pki" / "root-ca.crt"
            results = asyncio.run(measure(base, root, ca, secret, password, args.repeat, 80))
            results["schedule"] = [asyncio.run(schedule_look(config, 80))]
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\n{'page':44} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'KB':>8}")
    for r in results["pages"] + results["exports"]:
        print(f"{r['page']:44} {r['median_ms']:>10} {r['p95_ms']:>8} {r['max_ms']:>8} {r['kb']:>8}")
    print(f"\n{'import':32} {'rows':>6} {'preview s':>10} {'job s':>8}")
    for r in results["imports"]:
        print(f"{r['import']:32} {r['rows']:>6} {r['preview_s']:>10} {r['job_s']:>8}")
    for r in results["bulk"]:
        print(f"\n{r['bulk']}: {r['rows']} rows in {r['s']} s")
    for r in results["schedule"]:
        print(f"scheduled power-on, one look: {r['due']:,} PCs due, median {r['median_ms']} ms, max {r['max_ms']} ms")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (out / f"console-{stamp}.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
