"""The agent through an HTTP proxy (agent.proxy_url), as on an office network whose only way out is
the prefecture's proxy: enrollment, the control channel and the selftest's gateway check each open a
CONNECT tunnel, and TLS with the PC's certificate runs end to end through it (the proxy sees only
the gateway's name and port). The proxy here is a real one on loopback that records what it is asked."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from jiseki.agent.enroll import EnrollFailed, enroll
from jiseki.agent.runner import Agent
from jiseki.agent.selftest.checks import Status
from jiseki.agent.selftest.gateway_check import check_gateway
from jiseki.config import AgentConfig, ConfigError, parse_config
from jiseki.gateway import enrollment
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import Host, utcnow
from tests.conftest import splice

from .conftest import RunningGateway


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), as corporate proxies do for https://."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.asked: list[str] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            self.asked.append(f"{method} {target}")
            if method != "CONNECT" or self.refuse:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()

            await splice(reader, writer, up_reader, up_writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> ConnectProxy:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@contextlib.asynccontextmanager
async def proxy(refuse: bool = False) -> AsyncIterator[ConnectProxy]:
    async with ConnectProxy(refuse) as p:
        yield p


async def _token(gw: RunningGateway, host_id: str) -> str:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine).begin() as s:
            return await enrollment.create(
                s, gw.ca.root_fingerprint, host_id, f"PC {host_id}", dt.timedelta(hours=1), "admin", utcnow()
            )
    finally:
        await engine.dispose()


async def _online(gw: RunningGateway, host_id: str) -> bool:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine)() as s:
            host = await s.get(Host, host_id)
            return bool(host and host.online)
    finally:
        await engine.dispose()


def _gateway_target(gw: RunningGateway) -> str:
    return "CONNECT " + gw.url.removeprefix("https://")


async def test_a_pc_behind_a_proxy_enrolls_comes_online_and_passes_the_selftest(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    async with proxy() as p:
        token = await _token(gateway, "pc-proxy")
        assert await asyncio.to_thread(enroll, gateway.url, token, certs, p.url) == "pc-proxy"
        assert p.asked == [_gateway_target(gateway)] * 2  # the CA, then the CSR: each through a tunnel
        config = AgentConfig(gateway_url=gateway.url, cert_dir=certs, proxy_url=p.url)

        def no_screen() -> None:
            raise RuntimeError("no screen in this test")

        agent = Agent(config, no_screen, no_screen)  # type: ignore[arg-type]
        running = asyncio.create_task(agent.run_forever())
        try:
            async with asyncio.timeout(15):
                while not await _online(gateway, "pc-proxy"):  # noqa: ASYNC110 (the database is polled)
                    await asyncio.sleep(0.1)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        assert p.asked[2:] == [_gateway_target(gateway)]  # the control channel

        result = await asyncio.to_thread(check_gateway, config)
        assert result.status is Status.PASS, result
        assert result.figures["proxy_url"] == p.url and result.figures["http_status"] == 200
        assert p.asked[3:] == [_gateway_target(gateway)]


async def test_a_proxy_that_refuses_the_tunnel_is_named_in_the_error(gateway: RunningGateway, tmp_path: Path) -> None:
    async with proxy(refuse=True) as p:
        token = await _token(gateway, "pc-refused")
        with pytest.raises(EnrollFailed, match="cannot reach the gateway") as failed:
            await asyncio.to_thread(enroll, gateway.url, token, tmp_path / "certs", p.url)
        assert failed.value.retry  # the service tries again later with the same token
        config = AgentConfig(gateway_url=gateway.url, cert_dir=gateway.root / "agents" / "pc-1", proxy_url=p.url)
        result = await asyncio.to_thread(check_gateway, config)
        assert result.status is Status.FAIL and "answered CONNECT with 403" in str(result.detail.values)


@pytest.mark.parametrize(
    "value",
    ["https://proxy:8080", "http://proxy", "http://user:secret@proxy:8080", "http://proxy:8080/path", "proxy:8080"],
)
def test_a_proxy_setting_the_agent_cannot_use_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match=r"agent\.proxy_url"):
        parse_config({"agent": {"proxy_url": value}})
    assert replace(AgentConfig(), proxy_url="").proxy_url == ""
    assert parse_config({"agent": {"proxy_url": "http://proxy.pref.example:8080/"}}).agent.proxy_url == (
        "http://proxy.pref.example:8080"
    )
