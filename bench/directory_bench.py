"""How long directory sign-in, the directory synchronisation and a security key's check take (a
benchmark, not a test).

    .venv/bin/python -m bench.directory_bench [--people 4300] [--logins 40]

A real slapd (tests/directory_server.py: the AD-like schema, LDAPS with a test CA) is filled with
`--people` staff in 40 departments; a fresh SQLite database is migrated. Then:
- the synchronisation (`directory.sync.run_sync`), which creates the accounts: the dry run, the
  first run, a run with nothing to change, and one with 400 transfers and 300 leavers;
- then the password check of one login (`accounts.check_password`, what the login page waits for
  before its transaction): a local account (argon2), a directory account (a bind over LDAPS, with argon2
  beside it so that timing tells nothing), the same with the first server down (failover), and an
  unknown ID; median, 95th percentile, largest;
- a security key's answer checked (`webauthn_keys.verify_assertion`, with the tests' software
  authenticator), with its counter moved in the database.
There is no peer to compare with here: Guacamole's and the commercial products' directory sign-in
cannot run on this machine. Results also go to bench/results/directory-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ["JISEKI_TEST_REAL_ARGON2"] = "1"  # the product's argon2 cost, not the test suite's light one

from jiseki.gateway.auth import accounts, webauthn_keys
from jiseki.gateway.auth.passwords import hash_password
from jiseki.gateway.db.engine import make_engine, sessionmaker, upgrade_to_head
from jiseki.gateway.db.models import Terminal, User, WebSession, utcnow
from jiseki.gateway.directory import sync
from tests.conftest import free_port
from tests.directory_server import AD_GROUPS, AD_STAFF, PASSWORD, ad_user, start_servers
from tests.webauthn_soft import SoftKey

DEPARTMENTS = 40
LOCAL_PASSWORD = "Local-Bench-Pass-7"


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }


async def _timed(times: int, call: Callable[[], Awaitable[object]]) -> dict[str, float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return _stats(samples)


def _people(count: int) -> list[tuple[str, dict[str, list[str]]]]:
    entries = []
    for i in range(count):
        dept = f"部署{i % DEPARTMENTS:02d}"
        login = f"staff{i:05d}"
        entries.append(ad_user(login, f"職員 {i:05d}", "しょくいん", dept, ["jiseki-users"]))
    return entries


async def _login_figures(db: Any, server: Any, logins: int) -> dict[str, Any]:
    config = server.ad_config(group_dns=(f"CN=jiseki-users,{AD_GROUPS}",))
    down = f"ldaps://127.0.0.1:{free_port()}"
    failover = server.ad_config(down, server.url_ldaps, group_dns=config.group_dns)
    async with db.begin() as s:
        s.add(
            User(id="local.bench", display_name="ローカル", role="staff", password_hash=hash_password(LOCAL_PASSWORD))
        )
    figures = {
        "local password (argon2)": await _timed(
            logins, lambda: accounts.check_password(db, "local.bench", LOCAL_PASSWORD)
        ),
        "directory password (LDAPS bind + argon2 beside it)": await _timed(
            logins, lambda: accounts.check_password(db, "staff01001", PASSWORD, config)
        ),
        "directory, first server down (failover)": await _timed(
            max(5, logins // 4), lambda: accounts.check_password(db, "staff01002", PASSWORD, failover)
        ),
        "unknown login ID": await _timed(logins, lambda: accounts.check_password(db, "nobody.here", "x", config)),
    }
    for name in ("staff01001", "staff01002"):  # each check above must have been a success
        check = await accounts.check_password(db, name, PASSWORD, config)
        assert check.ok, f"{name}: the directory refused the benchmark's login"
    return figures


async def _sync_figures(db: Any, server: Any, people: int) -> dict[str, Any]:
    config = server.ad_config(group_dns=(f"CN=jiseki-users,{AD_GROUPS}",))
    figures: dict[str, Any] = {}
    for label, dry in (("dry run (preview)", True), ("first run", False), ("nothing to change", False)):
        start = time.perf_counter()
        result = await sync.run_sync(db, config, trigger="cli", dry_run=dry)
        figures[label] = {"seconds": round(time.perf_counter() - start, 2), "counts": result.counts}
        assert result.state == "done", result.error
    moves = [
        (f"CN=staff{i:05d},OU=部署{i % DEPARTMENTS:02d},{AD_STAFF}", {"department": ["部署99"]}) for i in range(400)
    ]
    leavers = [
        (f"CN=staff{i:05d},OU=部署{i % DEPARTMENTS:02d},{AD_STAFF}", {"userAccountControl": ["514"]})
        for i in range(400, 700)
    ]
    for dn, change in moves + leavers:
        server.modify(dn, change)
    start = time.perf_counter()
    result = await sync.run_sync(db, config, trigger="cli")
    figures["400 transfers and 300 leavers"] = {
        "seconds": round(time.perf_counter() - start, 2),
        "counts": result.counts,
    }
    figures["people in the directory"] = people
    return figures


async def _key_figures(db: Any, rp: webauthn_keys.RelyingParty, times: int) -> dict[str, Any]:
    """Register the software key through the product's functions, then time its answers at login."""
    key, session_id, now = SoftKey(rp.origins[0], rp.rp_id), "b" * 64, utcnow()
    async with db.begin() as s:
        s.add(Terminal(id="T-BENCH", name="bench", cert_fingerprint="0" * 64, state="active"))
        await s.flush()
        s.add(
            WebSession(
                id=session_id,
                user_id="local.bench",
                terminal_id="T-BENCH",
                stage="webauthn",
                csrf_token="x",
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(hours=1),
            )
        )
    async with db.begin() as s:
        user = await s.get(User, "local.bench")
        options = json.loads(await webauthn_keys.registration_options(s, rp, user, session_id, utcnow()))
    async with db.begin() as s:
        answer = webauthn_keys.parse_registration(key.create(options))
        await webauthn_keys.register(s, rp, user, session_id, answer, "bench", utcnow())

    async def one() -> None:
        async with db.begin() as s:
            options = json.loads(await webauthn_keys.authentication_options(s, rp, "local.bench", session_id, utcnow()))
            answer = webauthn_keys.parse_assertion(key.get(options))
            checked = await webauthn_keys.verify_assertion(s, rp, "local.bench", session_id, answer, utcnow())
            assert checked.verdict is webauthn_keys.Verdict.OK, checked

    return {"security key answer (options, signature check, counter UPDATE)": await _timed(times, one)}


async def run(people: int, logins: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="jiseki-directory-bench-"))
    (server,) = start_servers(root)
    try:
        start = time.perf_counter()
        for n in [*range(DEPARTMENTS), 99]:
            server.add(f"OU=部署{n:02d},{AD_STAFF}", {"objectClass": ["organizationalUnit"], "ou": [f"部署{n:02d}"]})
        server.add_many(_people(people))
        load_seconds = time.perf_counter() - start
        engine = make_engine(f"sqlite+aiosqlite:///{root / 'jiseki.db'}")
        await upgrade_to_head(engine)
        db = sessionmaker(engine)
        results: dict[str, Any] = {"loaded into slapd (s)": round(load_seconds, 1)}
        results["synchronisation"] = await _sync_figures(db, server, people)  # creates the accounts
        results["password check at login"] = await _login_figures(db, server, logins)
        from jiseki.config import GatewayConfig

        rp = webauthn_keys.relying_party(GatewayConfig(server_names=("localhost",)))
        results["webauthn"] = await _key_figures(db, rp, logins)
        await engine.dispose()
        return results
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--people", type=int, default=4300)
    parser.add_argument("--logins", type=int, default=40)
    args = parser.parse_args()
    results = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs",
        "python": sys.version.split()[0],
        **asyncio.run(run(args.people, args.logins)),
    }
    text = json.dumps(results, ensure_ascii=False, indent=2)
    print(text)
    out = Path(__file__).parent / "results" / f"directory-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(text + "\n", "utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
