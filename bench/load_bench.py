"""Load and fault harness: two gateway nodes on PostgreSQL, many light agents, relayed sessions.

    .venv/bin/python -m bench.load_bench [--agents 400] [--sessions 20] [--seconds 15] [--no-faults]

Everything runs on loopback over real TLS with the real protocol. The agents are a light fake (no
screen): a control channel with hello and pings, and, when offered a session, a data channel that
streams UPDATEs of realistic sizes (2-60 KB, 20 per second) within the ACK window of two, like the
real agent. The viewers are fake too: they log in as staff from a registered terminal (password and
one-time code), request a session and ACK every update.

Printed: idle agents held per node and memory per agent; sessions relayed and relay throughput per
node; session start time (request to first update) p50/p95; CPU per relayed Mbit/s. Faults: kill -9
of a node mid-session, a PostgreSQL restart, a viewer link cut for 5 s, a 2 Mbit/s 80 ms link.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from jiseki.agent.runner import backoff_delays
from jiseki.config import Config, GatewayConfig
from jiseki.gateway.auth import totp
from jiseki.gateway.pki import client_ssl_context
from jiseki.protocol import (
    Ack,
    Codec,
    Desktop,
    ImageOp,
    Monitor,
    Status,
    StatusCode,
    Update,
    decode_from_agent,
    decode_from_viewer,
    encode,
)
from tests.conftest import free_port
from tests.netproxy import LinkShape, NetProxy
from tests.pg import PostgresServer

PASSWORD = "Bench-Password-2026!"
UPDATE_SIZES = (2_000, 4_000, 8_000, 16_000, 30_000, 60_000)
UPDATES_PER_SECOND = 20
FAULT_PCS = (1, 3, 5, 7, 9)  # the PCs the fault cases' viewers use
SOLO_PCS = (10, 11, 12, 13, 14, 15)  # sessions started one at a time, on an otherwise quiet pair of nodes


def csrf_token(html: str) -> str:
    """The CSRF token of a portal page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError("no CSRF token on the page (not logged in?)")
    return found.group(1)


@dataclass
class Node:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ps(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)

    def rss_mb(self) -> float:
        return self.ps().memory_info().rss / 1e6

    def cpu(self) -> float:
        t = self.ps().cpu_times()
        return t.user + t.system


@dataclass
class FakeAgent:
    host_id: str
    ssl: ssl.SSLContext
    nodes: list[str]  # URLs, the first is where it starts (the "load balancer" tries the others)
    connected_to: str | None = None
    reconnected_at: float | None = None
    sessions: int = 0
    stop: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, http: aiohttp.ClientSession) -> None:
        delays = backoff_delays()
        while not self.stop:
            for url in self.nodes:
                try:
                    async with http.ws_connect(f"{url}/agent/control", ssl=self.ssl, heartbeat=30) as ws:
                        await ws.send_str(json.dumps({"type": "hello", "hostname": self.host_id, "version": "bench"}))
                        self.connected_to = url
                        self.reconnected_at = time.monotonic()
                        delays = backoff_delays()
                        async for msg in ws:
                            if msg.type != aiohttp.WSMsgType.TEXT:
                                break
                            offer = json.loads(msg.data)
                            if offer.get("type") == "offer":
                                task = asyncio.create_task(self.serve(http, offer))
                                self.tasks.add(task)
                                task.add_done_callback(self.tasks.discard)
                except (aiohttp.ClientError, OSError):
                    pass
                self.connected_to = None
                if self.stop:
                    return
            await asyncio.sleep(next(delays))

    async def serve(self, http: aiohttp.ClientSession, offer: dict[str, Any]) -> None:
        """Stream updates within an ACK window of two, like the real agent's flow control."""
        self.sessions += 1
        url = f"{offer['url']}{offer['path']}?ticket={offer['ticket']}"
        try:
            async with http.ws_connect(url, ssl=self.ssl, max_msg_size=2**20) as ws:
                await ws.send_bytes(encode(Desktop(1920, 1080, (Monitor(0, 0, 1920, 1080),))))
                in_flight: set[int] = set()
                seq = 0

                async def acks() -> None:
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            m = decode_from_viewer(msg.data)
                            if isinstance(m, Ack):
                                in_flight.difference_update({s for s in in_flight if s <= m.seq})

                reader = asyncio.create_task(acks())
                try:
                    while not ws.closed and not reader.done():
                        if len(in_flight) < 2:
                            seq += 1
                            size = random.choice(UPDATE_SIZES)
                            op = ImageOp(0, 0, 64, 64, Codec.JPEG, random.randbytes(size))
                            await ws.send_bytes(encode(Update(seq, (op,))))
                            in_flight.add(seq)
                        await asyncio.sleep(1 / UPDATES_PER_SECOND)
                finally:
                    reader.cancel()
        except (aiohttp.ClientError, OSError):
            pass


@dataclass
class Viewer:
    login_id: str
    secret: str
    base: str
    ssl: ssl.SSLContext
    frames: int = 0
    bytes: int = 0
    start_time: float | None = None
    requested: float | None = None  # the session request answered (ticket in hand)
    ended: str | None = None
    rtts: list[float] = field(default_factory=list)

    http: aiohttp.ClientSession | None = None

    async def run(self, host_id: str, seconds: float) -> None:
        await self.login()
        await self.session(host_id, seconds)

    async def login(self) -> None:
        """Password and one-time code; apart, so that argon2 (~0.2 CPU-s) stays out of relay figures."""
        self.http = http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.get(f"{self.base}/login", ssl=self.ssl) as r:
            token = csrf_token(await r.text())
        form = {
            "csrf_token": token,
            "login_id": self.login_id,
            "password": PASSWORD,
            "code": totp.code_at(self.secret, time.time()),
        }
        async with http.post(
            f"{self.base}/login", data=form, ssl=self.ssl, allow_redirects=False, headers={"Origin": self.base}
        ) as r:
            assert r.status == 303, r.status

    async def session(self, host_id: str, seconds: float) -> None:
        assert self.http is not None, "log in first"
        async with self.http as http:
            async with http.get(f"{self.base}/", ssl=self.ssl) as r:
                csrf = csrf_token(await r.text())
            t0 = time.monotonic()
            headers = {"Origin": self.base, "X-CSRF-Token": csrf}
            async with http.post(
                f"{self.base}/api/sessions", json={"host_id": host_id}, ssl=self.ssl, headers=headers
            ) as r:
                created = await r.json()
            self.requested = time.monotonic() - t0
            url = f"{self.base}/sessions/{created['session']}/viewer?ticket={created['ticket']}"
            resume_url = f"{self.base}/sessions/{created['session']}/viewer?resume={created['resume']}"
            end = time.monotonic() + seconds
            current = url
            while time.monotonic() < end:
                try:
                    async with http.ws_connect(
                        current, ssl=self.ssl, headers={"Origin": self.base}, max_msg_size=2**25
                    ) as ws:
                        async for msg in ws:
                            if msg.type != aiohttp.WSMsgType.BINARY:
                                break
                            m = decode_from_agent(msg.data)
                            if isinstance(m, Update):
                                if self.start_time is None:
                                    self.start_time = time.monotonic() - t0
                                self.frames += 1
                                self.bytes += len(msg.data)
                                await ws.send_bytes(encode(Ack(m.seq, 0)))
                            elif isinstance(m, Status) and m.code == StatusCode.SESSION_ENDED:
                                self.ended = m.detail
                            if time.monotonic() >= end:
                                await ws.close()
                                return
                except (aiohttp.ClientError, OSError):
                    pass
                if self.ended:
                    return
                current = resume_url  # the link broke: resume the same session
                await asyncio.sleep(1.0)


async def provision_all(pg_url: str, root: Path, agents: int, sessions: int) -> dict[str, str]:
    """Hosts with agent certificates, staff with TOTP, one terminal; returns staff → TOTP secret."""
    from jiseki.gateway.admin import create_user
    from jiseki.gateway.certs import record_issued
    from jiseki.gateway.db.models import User
    from jiseki.gateway.hosts import assign, register_host
    from jiseki.gateway.pki import write_private
    from jiseki.gateway.state import open_state
    from jiseki.gateway.terminals import _upsert

    async def run() -> dict[str, str]:
        state = await open_state(Config(gateway=GatewayConfig(data_dir=root / "shared", database_url=pg_url)))
        secrets_: dict[str, str] = {}
        try:
            async with state.db.begin() as s:
                for i in range(agents):
                    await register_host(s, state.ca, f"pc-{i:05d}", f"PC {i}", root / "agents" / f"pc-{i:05d}")
                issued = state.ca.issue_client_cert("terminal", "bench-term", dt.timedelta(days=10))
                write_private(root / "term.crt", issued.cert_pem)
                write_private(root / "term.key", issued.key_pem)
                await _upsert(s, "bench-term", "bench terminal", issued.fingerprint)
                await s.flush()
                await record_issued(s, issued.cert, "terminal", "bench-term")
            # u…: one per session of the main phase; f…: the fault cases' viewers (a one-time code
            # is good once, so a second login by the same staff member would wait 30 s).
            people = [(f"u{i:04d}", i) for i in range(sessions)]
            people += [(f"f{i:04d}", i) for i in FAULT_PCS] + [(f"s{i:04d}", i) for i in SOLO_PCS]
            for login_id, i in people:
                async with state.db.begin() as s:
                    await create_user(
                        s, state.password_policy, login_id, login_id, "負荷試験課", "staff", PASSWORD, "bench"
                    )
                    user = await s.get(User, login_id)
                    assert user is not None
                    secret = totp.new_secret()
                    user.totp_secret, user.totp_enabled = state.box.seal(secret), True
                    await assign(s, login_id, f"pc-{i:05d}")
                    secrets_[login_id] = secret
        finally:
            await state.engine.dispose()
        return secrets_

    return await run()


def start_node(name: str, root: Path, pg_url: str, port: int) -> Node:
    cfg = root / f"{name}.toml"
    cfg.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\nnode_id = "{name}"\npublic_url = "https://127.0.0.1:{port}"\n'
        f'data_dir = "{root / "shared"}"\ndatabase_url = "{pg_url}"\ndrain_seconds = 1\n'
        "[auth]\naddress_max_failures = 100000\n",
        "utf-8",
    )
    log = open(root / f"{name}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "jiseki", "gateway", "--config", str(cfg)], stdout=log, stderr=log)
    from jiseki.demo.run import wait_for_port

    if not wait_for_port("127.0.0.1", port, 60):
        raise RuntimeError(f"{name} did not start")
    return Node(name, port, proc)


async def until(condition: Callable[[], bool], limit: float, step: float = 0.1) -> None:
    """Poll `condition` (state changed by other tasks) until it holds or `limit` seconds pass."""
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110 - state of other tasks
        await asyncio.sleep(step)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


async def main_async(args: argparse.Namespace, root: Path, pg: PostgresServer, pg_url: str) -> None:
    secrets_ = await provision_all(pg_url, root, args.agents, args.sessions)
    nodes = [start_node(n, root, pg_url, free_port()) for n in ("node-a", "node-b")]
    a, b = nodes
    base_rss = {n.name: n.rss_mb() for n in nodes}
    terminal = client_ssl_context(root / "shared" / "pki" / "root-ca.crt", root / "term.crt", root / "term.key")
    connector = aiohttp.TCPConnector(limit=0)
    results: dict[str, Any] = {}  # figures by phase, written out as JSON
    async with aiohttp.ClientSession(connector=connector) as http:
        agents = []
        for i in range(args.agents):
            d = root / "agents" / f"pc-{i:05d}"
            ctx = client_ssl_context(d / "ca.crt", d / "agent.crt", d / "agent.key")
            order = [a.url, b.url] if i % 2 == 0 else [b.url, a.url]
            agents.append(FakeAgent(f"pc-{i:05d}", ctx, order))
        t0 = time.monotonic()
        tasks = [asyncio.create_task(ag.run(http)) for ag in agents]
        await until(lambda: sum(1 for ag in agents if ag.connected_to) >= args.agents, 120)
        connect_s = time.monotonic() - t0
        await asyncio.sleep(3)
        per_node = {n.name: sum(1 for ag in agents if ag.connected_to == n.url) for n in nodes}
        idle = {n.name: (n.rss_mb() - base_rss[n.name]) * 1000 / max(1, per_node[n.name]) for n in nodes}
        results["idle"] = {
            "connect_s": connect_s,
            "per_node": per_node,
            "kb_per_agent": idle,
            "rss_mb": {n.name: n.rss_mb() for n in nodes},
        }

        # ---- sessions: viewers alternate between the two nodes ------------------------------
        main_users = sorted(u for u in secrets_ if u.startswith("u"))
        viewers = [Viewer(u, secrets_[u], nodes[i % 2].url, terminal) for i, u in enumerate(main_users)]
        await asyncio.gather(*(v.login() for v in viewers))
        cpu0 = {n.name: n.cpu() for n in nodes}
        run_t0 = time.monotonic()
        await asyncio.gather(*(v.session(f"pc-{i:05d}", args.seconds) for i, v in enumerate(viewers)))
        elapsed = time.monotonic() - run_t0
        cpu = {n.name: n.cpu() - cpu0[n.name] for n in nodes}
        by_node = {n.name: sum(v.bytes for i, v in enumerate(viewers) if i % 2 == nodes.index(n)) for n in nodes}
        starts = [v.start_time for v in viewers if v.start_time is not None]
        results["sessions"] = {
            "sessions": len(viewers),
            "seconds": elapsed,
            "mbit_per_node": {k: v * 8 / 1e6 / elapsed for k, v in by_node.items()},
            "cpu_s_per_node": cpu,
            "cpu_s_per_mbit": {k: cpu[k] / max(1e-9, by_node[k] * 8 / 1e6) for k in cpu},
            "start_p50_ms": pct(starts, 0.5) * 1000,
            "start_p95_ms": pct(starts, 0.95) * 1000,
            "frames": sum(v.frames for v in viewers),
        }
        # ---- session start on quiet nodes, one at a time -------------------------------------
        solo = [Viewer(f"s{i:04d}", secrets_[f"s{i:04d}"], nodes[i % 2].url, terminal) for i in SOLO_PCS]
        for i, v in zip(SOLO_PCS, solo, strict=True):
            await v.run(f"pc-{i:05d}", 1.5)
        results["solo_starts"] = {
            "start_ms": [round((v.start_time or 0) * 1000) for v in solo],
            "request_ms": [round((v.requested or 0) * 1000) for v in solo],
        }
        if not args.no_faults:
            results["faults"] = await faults(args, root, pg, nodes, agents, secrets_, terminal)
        for ag in agents:
            ag.stop = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for n in nodes:
        if n.proc.poll() is None:
            n.proc.send_signal(signal.SIGINT)
            n.proc.wait(20)
    report(results, args)


async def faults(
    args: argparse.Namespace,
    root: Path,
    pg: PostgresServer,
    nodes: list[Node],
    agents: list[FakeAgent],
    secrets_: dict[str, str],
    terminal: ssl.SSLContext,
) -> dict[str, object]:
    a, b = nodes
    out: dict[str, object] = {}
    users = {i: f"f{i:04d}" for i in FAULT_PCS}
    # 1. A viewer's link cut for 5 s (through a proxy in front of node B): the same session resumes.
    proxy = NetProxy("127.0.0.1", b.port)
    v = Viewer(users[1], secrets_[users[1]], f"https://127.0.0.1:{proxy.port}", terminal)
    task = asyncio.create_task(v.run("pc-00001", 20))
    await asyncio.sleep(5)
    before = v.frames
    await asyncio.to_thread(proxy.cut)
    await asyncio.sleep(5)
    await asyncio.to_thread(proxy.restore)
    t_restore = time.monotonic()
    await until(lambda: v.frames > before, 20)
    out["viewer_cut_5s"] = {
        "resumed": v.frames > before,
        "seconds_to_frames_after_restore": time.monotonic() - t_restore,
    }
    await task
    proxy.close()
    # 2. A slow link: 2 Mbit/s with 80 ms round trip (40 ms each way): update round trips stay bounded.
    slow = NetProxy("127.0.0.1", b.port, LinkShape(delay=0.04, rate=250_000))
    v = Viewer(users[3], secrets_[users[3]], f"https://127.0.0.1:{slow.port}", terminal)
    rss0 = b.rss_mb()
    await v.run("pc-00003", 15)
    out["slow_link"] = {"frames": v.frames, "kbit_s": v.bytes * 8 / 1000 / 15, "rss_growth_mb": b.rss_mb() - rss0}
    slow.close()
    # 3. PostgreSQL restarts while sessions run on node B: relaying goes on; new sessions work after.
    v = Viewer(users[5], secrets_[users[5]], b.url, terminal)
    task = asyncio.create_task(v.run("pc-00005", 20))
    await asyncio.sleep(4)
    before = v.frames
    t = time.monotonic()
    await asyncio.to_thread(pg.restart)
    restart_s = time.monotonic() - t
    await asyncio.sleep(3)
    during = v.frames - before
    await task
    after = Viewer(users[7], secrets_[users[7]], b.url, terminal)
    t = time.monotonic()
    try:
        await asyncio.wait_for(after.run("pc-00007", 5), 40)
    except Exception as exc:  # a first request may meet a dead pooled connection
        after.ended = repr(exc)
    out["postgres_restart"] = {
        "restart_s": restart_s,
        "frames_while_restarting": during,
        "new_session_after": after.frames > 0,
        "new_session_s": time.monotonic() - t,
    }
    # 4. kill -9 of node A mid-session: sessions on node B go on, A's agents come back on B.
    v = Viewer(users[9], secrets_[users[9]], b.url, terminal)
    task = asyncio.create_task(v.run("pc-00009", 25))
    await asyncio.sleep(4)
    on_a = [ag for ag in agents if ag.connected_to == a.url]
    before = v.frames
    t_kill = time.monotonic()
    a.proc.kill()
    a.proc.wait()
    await until(lambda: all(ag.connected_to == b.url for ag in on_a), 90)
    back = [ag.reconnected_at - t_kill for ag in on_a if ag.connected_to == b.url and ag.reconnected_at]
    await task
    out["kill_node_a"] = {
        "agents_on_a": len(on_a),
        "back_on_b": len(back),
        "back_p50_s": pct(back, 0.5),
        "back_p95_s": pct(back, 0.95),
        "back_max_s": max(back) if back else None,
        "session_on_b_frames_after_kill": v.frames - before,
    }
    return out


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    idle, sess = results["idle"], results["sessions"]
    print(f"\n== {args.agents} idle agents over 2 nodes (connected in {idle['connect_s']:.1f} s)")
    for node, count in idle["per_node"].items():
        print(
            f"   {node}: {count} agents, {idle['kb_per_agent'][node]:.0f} KB RSS per agent, "
            f"{idle['rss_mb'][node]:.0f} MB RSS"
        )
    print(f"== {sess['sessions']} sessions for {sess['seconds']:.1f} s (half on each node)")
    for node in sess["mbit_per_node"]:
        print(
            f"   {node}: {sess['mbit_per_node'][node]:.1f} Mbit/s relayed, {sess['cpu_s_per_node'][node]:.1f} CPU-s, "
            f"{sess['cpu_s_per_mbit'][node] * 1000:.1f} CPU-ms per Mbit"
        )
    print(
        f"   session start (request → first update): p50 {sess['start_p50_ms']:.0f} ms, "
        f"p95 {sess['start_p95_ms']:.0f} ms"
    )
    solo = results["solo_starts"]
    print(
        f"   one start at a time: request → first update {solo['start_ms']} ms "
        f"(of which the session request {solo['request_ms']} ms)"
    )
    if "faults" in results:
        print("== faults")
        for name, figures in results["faults"].items():
            print(
                f"   {name}: "
                + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
            )
    out = Path(__file__).parent / "results" / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str), "utf-8")
    print(f"\nwritten to {out}; machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--no-faults", action="store_true")
    args = parser.parse_args()
    args.sessions = max(args.sessions, 10)
    pg = PostgresServer()
    try:
        with tempfile.TemporaryDirectory(prefix="jiseki-load-") as tmp:
            try:
                asyncio.run(main_async(args, Path(tmp), pg, pg.new_database()))
            finally:  # the nodes' logs outlive the run (they explain a failure)
                out = Path(__file__).parent / "results"
                out.mkdir(exist_ok=True)
                for log in Path(tmp).glob("node-*.log"):
                    shutil.copy(log, out / f"load-{time.strftime('%Y%m%d-%H%M%S')}-{log.name}")
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
