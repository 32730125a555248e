"""Two real gateway nodes on a real PostgreSQL, a real agent on Xvfb, a real Chromium: the viewer on
node B operates the office PC whose agent holds its control channel on node A."""

from __future__ import annotations

import asyncio
import os
import secrets
import string
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jiseki.config import AgentConfig, Config, GatewayConfig
from jiseki.demo.desktop import VirtualDesktop
from jiseki.demo.processes import ProcessGroup
from jiseki.demo.provision import DemoCredentials, provision
from jiseki.demo.run import wait_for_port
from tests.conftest import free_ports

from .conftest import login, needs_desktop, terminal_context
from .test_viewer import type_text, wait_for

pytestmark = [pytest.mark.e2e, needs_desktop]


def _isolated(coro):  # type: ignore[no-untyped-def]
    """asyncio.run in a thread of its own: Playwright's sync API keeps a loop running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class Cluster:
    data_dir: Path
    base_url: str  # node B: where the staff member is
    credentials: DemoCredentials
    database_url: str
    desktop: VirtualDesktop


def _toml(path: Path, node: str, port: int, data_dir: Path, url: str, agent_url: str, cert_dir: Path) -> None:
    path.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\nnode_id = "{node}"\npublic_url = "https://127.0.0.1:{port}"\n'
        f'data_dir = "{data_dir}"\ndatabase_url = "{url}"\ndrain_seconds = 1\n\n'
        f'[agent]\ngateway_url = "{agent_url}"\ncert_dir = "{cert_dir}"\n',
        "utf-8",
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres: object) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("nodes")
    url = postgres.new_database()  # type: ignore[attr-defined]
    shared = root / "shared"
    ports = dict(zip(("node-a", "node-b"), free_ports(2), strict=True))
    agent_dir = root / "agent"
    a_url = f"https://127.0.0.1:{ports['node-a']}"
    configs = {}
    for node, port in ports.items():
        configs[node] = root / f"{node}.toml"
        _toml(configs[node], node, port, shared, url, a_url, agent_dir)  # the agent dials node A
    config = Config(
        gateway=GatewayConfig(port=ports["node-a"], node_id="node-a", data_dir=shared, database_url=url),
        agent=AgentConfig(gateway_url=a_url, cert_dir=agent_dir),
    )
    creds = _isolated(provision(config, root))
    group = ProcessGroup()
    log = open(root / "processes.log", "ab")
    try:
        desktop = VirtualDesktop(group)
        desktop.start_x()
        desktop.start_desktop()
        for node in ("node-a", "node-b"):
            group.start(
                node,
                [sys.executable, "-m", "jiseki", "gateway", "--config", str(configs[node])],
                stdout=log,
                stderr=log,
            )
            assert wait_for_port("127.0.0.1", ports[node], 30)
            assert _node_at(ports[node], shared / "pki" / "root-ca.crt") == node  # not another server on the port
        group.start(
            "agent",
            [sys.executable, "-m", "jiseki", "agent", "--config", str(configs["node-a"])],
            env=desktop.env(),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while b"agent demo-pc online" not in (root / "processes.log").read_bytes():
            assert time.monotonic() < deadline, "the agent did not come online on node A"
            time.sleep(0.2)
        yield Cluster(root, f"https://127.0.0.1:{ports['node-b']}", creds, url, desktop)
    finally:
        group.stop_all()
        log.close()


def _node_at(port: int, ca_file: Path) -> str | None:
    """The node id a gateway names in its own /metrics (loopback may read them)."""
    import re
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=str(ca_file))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", context=context, timeout=10) as response:
        found = re.search(r'jiseki_agents_online\{node="([^"]+)"\}', response.read().decode())
    return found.group(1) if found else None


def _db_rows(url: str, sql: str) -> list[tuple]:
    from sqlalchemy import text

    from jiseki.gateway.db.engine import make_engine

    async def run() -> list[tuple]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]
        finally:
            await engine.dispose()

    return _isolated(run())


def test_viewer_on_node_b_operates_the_pc_held_by_node_a(browser, cluster: Cluster) -> None:  # type: ignore[no-untyped-def]
    context = terminal_context(browser, cluster, viewport={"width": 1920, "height": 1200})
    try:
        page = context.new_page()
        login(page, cluster)
        page.goto(f"{cluster.base_url}/view/demo-pc")
        wait_for(page, "window.jisekiStats && window.jisekiStats.framesDrawn > 0", timeout=30)
        name = "jiseki_" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
        page.mouse.click(300, 330)  # the terminal window, top left of the desktop
        time.sleep(0.3)
        type_text(page, f"echo two nodes > /tmp/{name}")
        page.keyboard.press("Enter")
        target = Path("/tmp") / name
        deadline = time.monotonic() + 10
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.exists() and target.read_text() == "two nodes\n"
        target.unlink()
        assert _db_rows(cluster.database_url, "SELECT control_node FROM hosts WHERE id = 'demo-pc'") == [("node-a",)]
        live = _db_rows(cluster.database_url, "SELECT node_id FROM sessions WHERE state = 'live'")
        assert live == [("node-b",)]
    finally:
        context.close()
    assert os.path.exists(cluster.data_dir / "processes.log")
