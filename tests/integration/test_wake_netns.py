"""電源オン (Wake-on-LAN) on real networks: Linux network namespaces joined by veth pairs.

- A "sleeping PC" namespace listens on UDP 9 and 7 of its subnet and records what arrives.
- DIRECT: the gateway machine (this test's root namespace) has an interface in that subnet: the
  console's 電源オン broadcasts the magic packet there itself.
- RELAY: the gateway has no interface there; a real `jiseki agent` process (on its own Xvfb) runs in
  a "PC subnet" namespace, reports its interfaces (the MAC must be its interface's real one) and,
  asked by the gateway, broadcasts the packet on its subnet.

Needs root (ip netns); skipped otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from jiseki.gateway.db.models import Host
from jiseki.wol import magic_packet
from tests.conftest import splice

from .conftest import RunningGateway
from .console_support import add_console_users, database, events, logged_in, post

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("Xvfb") is None,
    reason="needs root, iproute2 and Xvfb (network namespaces)",
)

TAG = f"{os.getpid() % 10000:04d}"
UPLINK = "10.67.{n}.1"  # the gateway's side of the relay agent's uplink
LISTENER = r"""
import json, select, socket, sys, time
socks = []
for port in (9, 7):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind(("0.0.0.0", port))
    socks.append(s)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    ready, _, _ = select.select(socks, [], [], 0.2)
    for s in ready:
        data, peer = s.recvfrom(2048)
        print(json.dumps({"port": s.getsockname()[1], "from": peer[0], "data": data.hex()}), flush=True)
"""


@pytest.fixture
def gateway_options() -> dict[str, object]:
    # The relay agent dials the gateway on the uplink's address: the server certificate must name it.
    return {"server_names": ("localhost", "127.0.0.1", UPLINK.format(n=1))}


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10).stdout


def mac_in(ns: str, dev: str) -> str:
    """The interface's MAC as the kernel has it (its /sys entry inside the namespace)."""
    return subprocess.run(
        ["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/address"],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()


@contextlib.contextmanager
def namespaces(*names: str) -> Iterator[None]:
    """Namespaces (and, with them, the veths inside) removed in the end whatever happened."""
    try:
        for name in names:
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        yield
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def veth(a: str, a_ns: str | None, a_addr: str, b: str, b_ns: str, b_addr: str) -> None:
    """A veth pair a <-> b, each end in its namespace (None: the root one) with its address."""
    ip("link", "add", a, "type", "veth", "peer", "name", b)
    ip("link", "set", b, "netns", b_ns)
    if a_ns is not None:
        ip("link", "set", a, "netns", a_ns)
    pre_a = ["-n", a_ns] if a_ns else []
    ip(*pre_a, "addr", "add", a_addr, "dev", a)
    ip(*pre_a, "link", "set", a, "up")
    ip("-n", b_ns, "addr", "add", b_addr, "dev", b)
    ip("-n", b_ns, "link", "set", b, "up")


def spawn(
    ns: str, argv: list[str], log: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A process inside the namespace, its output appended to `log` (or dropped)."""
    with open(log, "ab") if log is not None else open(os.devnull, "wb") as out:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out, stderr=subprocess.STDOUT, env=env)


class Listener:
    """The sleeping PC: a UDP listener on 9 and 7 in its namespace."""

    def __init__(self, ns: str, seconds: float) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER, str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def received(self) -> list[dict[str, object]]:
        self.proc.wait(timeout=60)
        assert self.proc.stdout is not None
        return [json.loads(line) for line in self.proc.stdout.read().splitlines() if line.strip()]


async def set_network(gw: RunningGateway, host_id: str, network: list[dict[str, object]] | None) -> None:
    async with database(gw) as s:
        await s.execute(update(Host).where(Host.id == host_id).values(network=json.dumps(network) if network else None))


@contextlib.asynccontextmanager
async def forward(listen: str, port: int, target_port: int) -> AsyncIterator[None]:
    """TCP from the uplink's address to the gateway on loopback (the test gateway listens there only)."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)

        await splice(reader, writer, up_reader, up_writer)

    server = await asyncio.start_server(client, listen, port)
    try:
        yield
    finally:
        server.close()


async def wait_for(check, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def test_direct_the_gateway_broadcasts_in_its_own_subnet(gateway: RunningGateway) -> None:
    sleeper = f"jwS{TAG}"
    with namespaces(sleeper):
        veth(f"jwg{TAG}", None, "10.66.2.1/24", "s0", sleeper, "10.66.2.3/24")
        target_mac = mac_in(sleeper, "s0")
        await set_network(
            gateway, "pc-2", [{"mac": target_mac, "address": "10.66.2.3", "prefix": 24, "broadcast": "10.66.2.255"}]
        )
        await add_console_users(gateway)
        listener = Listener(sleeper, 4.0)
        async with await logged_in(gateway, "root") as b:
            status, body, location = await post(b, "/admin/pcs/pc-2/wake", {})
        assert status == 303, body[:2000]
        assert location.endswith("done=woken")
        got = listener.received()
        assert {g["port"] for g in got} == {9, 7}
        assert all(bytes.fromhex(str(g["data"])) == magic_packet(target_mac) for g in got)
        assert {g["from"] for g in got} == {"10.66.2.1"}  # from the gateway machine itself
        (event,) = await events(gateway, "host_wake_requested")
        assert event.outcome == "ok" and event.actor == "root" and event.subject == "pc-2"
        assert json.loads(event.details or "{}")["route"] == "direct"
        async with database(gateway) as s:
            host = await s.get(Host, "pc-2")
            assert host is not None and host.wake_requested_by == "root" and host.wake_requested_at is not None


async def test_relay_a_running_agent_in_the_subnet_broadcasts_for_the_gateway(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    pc_ns, sleeper = f"jwP{TAG}", f"jwQ{TAG}"
    uplink = UPLINK.format(n=1)
    with namespaces(pc_ns, sleeper):
        veth(f"jwu{TAG}", None, f"{uplink}/24", "up0", pc_ns, "10.67.1.2/24")  # the relay PC's way to the gateway
        veth("a0", pc_ns, "10.66.1.2/24", "s0", sleeper, "10.66.1.3/24")  # the PC subnet (no gateway here)
        target_mac, relay_mac = mac_in(sleeper, "s0"), mac_in(pc_ns, "a0")
        await set_network(
            gateway, "pc-2", [{"mac": target_mac, "address": "10.66.1.3", "prefix": 24, "broadcast": "10.66.1.255"}]
        )
        await add_console_users(gateway)
        port = int(gateway.url.rsplit(":", 1)[1])
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[agent]\ngateway_url = "https://{uplink}:{port}"\ncert_dir = "{gateway.root / "agents" / "pc-1"}"\n'
            'display = ":87"\n',
            "utf-8",
        )
        xvfb = spawn(pc_ns, ["Xvfb", ":87", "-nolisten", "tcp", "-screen", "0", "640x480x24"])
        log = tmp_path / "agent.log"
        agent = None
        try:
            async with forward(uplink, port, port):
                await asyncio.sleep(0.5)
                env = {**os.environ, "DISPLAY": ":87", "PYTHONPATH": str(Path(__file__).parents[2])}
                agent = spawn(pc_ns, [sys.executable, "-m", "jiseki", "--config", str(config), "agent"], log, env)

                async def reported() -> bool:
                    async with database(gateway) as s:
                        host = await s.get(Host, "pc-1")
                        return host is not None and host.online and host.network is not None

                await wait_for(reported, 60)
                async with database(gateway) as s:
                    host = await s.get(Host, "pc-1")
                    assert host is not None and host.network is not None
                    network = json.loads(host.network)
                # the agent's report: its real MAC (the kernel's), both of its subnets
                assert {i["address"]: i["mac"] for i in network} == {
                    "10.66.1.2": relay_mac,
                    "10.67.1.2": mac_in(pc_ns, "up0"),
                }
                assert all(i["prefix"] == 24 for i in network)
                listener = Listener(sleeper, 6.0)
                async with await logged_in(gateway, "root") as b:
                    status, body, _location = await post(b, "/admin/pcs/pc-2/wake", {})
                assert status == 303, body[:2000]
                got = listener.received()
        finally:
            for proc in (agent, xvfb):
                if proc is not None:
                    proc.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=10)
        assert {g["port"] for g in got} == {9, 7}, log.read_text()
        assert all(bytes.fromhex(str(g["data"])) == magic_packet(target_mac) for g in got)
        assert {g["from"] for g in got} == {"10.66.1.2"}  # sent by the relay agent, on its subnet
        (event,) = await events(gateway, "host_wake_requested")
        details = json.loads(event.details or "{}")
        assert event.outcome == "ok" and details["route"] == "relay" and details["relay"] == "pc-1"


async def test_no_route_is_refused_clearly(gateway: RunningGateway) -> None:
    await set_network(
        gateway,
        "pc-2",
        [{"mac": "52:54:00:aa:bb:cc", "address": "10.99.1.3", "prefix": 24, "broadcast": "10.99.1.255"}],
    )
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        status, body, _location = await post(b, "/admin/pcs/pc-2/wake", {})
    assert status == 409
    assert "同じネットワークに起動中のPCがありません" in body
    (event,) = await events(gateway, "host_wake_requested")
    assert event.outcome == "error" and json.loads(event.details or "{}")["route"] == "none"
