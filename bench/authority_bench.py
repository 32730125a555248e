"""What the per-node authority check costs (a benchmark, not a test).

    .venv/bin/python -m bench.authority_bench [--sessions 500] [--repeat 50] [--database-url URL]

Every gateway node looks at the database every 2 s for the sessions it relays (`gateway/authority.py`):
is the account still enabled, is a valid login of that user on that terminal left, and the web sessions
that saw input get their last-seen time. This fills a database (SQLite by default) with `--sessions`
staff, terminals' web sessions and as many live sessions on one node, then times `authority.check`:
median, 95th percentile and largest wall time and CPU per check, and what that is as a share of one
core at one check every 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from jiseki.config import AuthConfig, Config, GatewayConfig
from jiseki.gateway import authority
from jiseki.gateway.broker import Broker, PendingSession
from jiseki.gateway.db.models import Terminal, User, WebSession
from jiseki.gateway.policy import combine
from jiseki.gateway.rules import SessionRules
from jiseki.gateway.state import open_state


async def run(sessions: int, repeat: int, database_url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(gateway=GatewayConfig(data_dir=Path(tmp), database_url=database_url))
        state = await open_state(config)
        now = dt.datetime.now(dt.UTC)
        users = [f"k{i:05d}" for i in range(sessions)]
        async with state.db.begin() as s:
            await s.execute(insert(Terminal), [{"id": f"T-{u}", "name": u, "fingerprint": u} for u in users])
            await s.execute(
                insert(User),
                [{"id": u, "display_name": u, "password_hash": "x", "totp_enabled": True} for u in users],
            )
            await s.execute(
                insert(WebSession),
                [
                    {
                        "id": f"{i:064x}",
                        "user_id": u,
                        "terminal_id": f"T-{u}",
                        "stage": "full",
                        "csrf_token": "x",
                        "last_seen_at": now,
                        "expires_at": now + dt.timedelta(hours=8),
                    }
                    for i, u in enumerate(users)
                ],
            )
        broker = Broker(state.db)
        for i, u in enumerate(users):
            p = PendingSession(f"s{i}", f"pc-{i}", u, f"T-{u}", "fp", "t", "t", 15.0, viewer_claimed=True)
            p.web_session_id = f"{i:064x}"
            p.rules = SessionRules(combine([]), time.monotonic(), now)
            broker.live[p.id] = p
        touched: dict[str, float] = {}
        walls, cpus = [], []
        for n in range(repeat):
            if n % 10 == 0:  # every tenth look, all sessions saw input since the last write
                touched.clear()
            w0, c0 = time.perf_counter(), time.process_time()
            await authority.check(broker, AuthConfig(), touched)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        assert len(broker.live) == sessions, "a valid session was ended"
        await state.engine.dispose()
    walls.sort()
    cpus.sort()
    engine = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"

    def ms(values: list[float], q: float) -> str:
        return f"{values[min(len(values) - 1, int(q * len(values)))] * 1000:.1f}"

    print(f"authority check, {sessions} live sessions on one node, {engine}, {repeat} looks")
    print(f"  wall ms: median {statistics.median(walls) * 1000:.1f}  p95 {ms(walls, 0.95)}  max {walls[-1] * 1000:.1f}")
    print(f"  CPU  ms: median {statistics.median(cpus) * 1000:.1f}  p95 {ms(cpus, 0.95)}  max {cpus[-1] * 1000:.1f}")
    share = statistics.median(cpus) / authority.CHECK_INTERVAL * 100
    print(f"  one look every {authority.CHECK_INTERVAL:g} s: {share:.2f} % of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url", default="", help="empty: a SQLite file in a temporary directory")
    args = parser.parse_args()
    asyncio.run(run(args.sessions, args.repeat, args.database_url))


if __name__ == "__main__":
    main()
