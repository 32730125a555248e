"""How fast the admin console lists 5,000 staff and 5,000 office PCs (a benchmark, not a test).

    .venv/bin/python -m bench.console_bench [--staff 5000] [--pcs 5000] [--sessions 100000] [--repeat 20]

A gateway process (SQLite, TLS) is filled with staff, PCs with certificates and assignments, 30
days of sessions and audit events; then an administrator's client, over TLS with a terminal
certificate, loads each page `--repeat` times. Printed: median, 95th percentile and largest time
from sending the request to the last byte of the page, and the page's size. Results also go to
bench/results/console-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

from jiseki.config import AgentConfig, Config, GatewayConfig
from jiseki.demo.run import wait_for_port, write_config
from jiseki.gateway.auth import totp
from jiseki.gateway.auth.passwords import hash_password
from jiseki.gateway.certs import record_issued
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
from jiseki.gateway.state import open_state
from jiseki.gateway.terminals import _upsert
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
]
SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"]
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
                    "display_name": f"{rnd.choice(SURNAMES)} {rnd.choice(GIVEN)}",
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


async def measure(base: str, root: Path, ca: Path, secret: str, password: str, repeat: int) -> list[dict[str, Any]]:
    ssl_ctx = client_ssl_context(ca, root / "terminal.crt", root / "terminal.key")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(base + "/login", ssl=ssl_ctx) as r:
            page = await r.text()
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        form = {
            "csrf_token": token,
            "login_id": "bench-admin",
            "password": password,
            "code": totp.code_at(secret, time.time()),
        }
        async with http.post(
            base + "/login", data=form, ssl=ssl_ctx, headers={"Origin": base}, allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()
        results = []
        for label, path in PAGES:
            times, size = [], 0
            for i in range(repeat + 1):
                started = time.perf_counter()
                async with http.get(base + path, ssl=ssl_ctx, allow_redirects=False) as r:
                    body = await r.read()
                    assert r.status == 200, (path, r.status)
                if i:  # the first request warms caches and connections
                    times.append((time.perf_counter() - started) * 1000)
                size = len(body)
                if os.environ.get("BENCH_DUMP") and path == os.environ["BENCH_DUMP"]:
                    print(body.decode()[:3000])
            times.sort()
            results.append(
                {
                    "page": label,
                    "path": path,
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[max(0, round(0.95 * len(times)) - 1)], 1),
                    "max_ms": round(times[-1], 1),
                    "kb": round(size / 1024, 1),
                }
            )
    return results


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
            results = asyncio.run(measure(base, root, ca, secret, password, args.repeat))
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\n{'page':32} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'KB':>7}")
    for r in results:
        print(f"{r['page']:32} {r['median_ms']:>10} {r['p95_ms']:>8} {r['max_ms']:>8} {r['kb']:>7}")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (out / f"console-{stamp}.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
