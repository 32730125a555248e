"""A real gateway (TLS, SQLite, migrations) in the test's event loop, and TLS clients for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from jiseki.config import GatewayConfig
from jiseki.gateway.hosts import register_host
from jiseki.gateway.pki import CertificateAuthority, client_ssl_context
from jiseki.gateway.server import open_state, serve
from tests.conftest import free_port

TOKEN = "test-access-token-0123456789"


@dataclass
class RunningGateway:
    config: GatewayConfig
    url: str
    agent_dir: Path
    ca: CertificateAuthority

    def agent_ssl(self, cert_dir: Path | None = None) -> ssl.SSLContext:
        d = cert_dir or self.agent_dir
        return client_ssl_context(d / "ca.crt", d / "agent.crt", d / "agent.key")

    def browser_ssl(self) -> ssl.SSLContext:
        return client_ssl_context(self.ca.root_cert_path)

    def db_url(self) -> str:
        return self.config.effective_database_url


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    config = GatewayConfig(host="127.0.0.1", port=free_port(), data_dir=tmp_path / "gw", access_token=TOKEN)
    state = await open_state(config)
    agent_dir = tmp_path / "agent"
    await register_host(state.ca, state.broker.db, "pc-1", "PC 1", agent_dir)
    await state.engine.dispose()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop))
    url = f"https://127.0.0.1:{config.port}"
    for _ in range(100):
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", config.port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    try:
        yield RunningGateway(config, url, agent_dir, state.ca)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def issue_other_ca_cert(tmp_path: Path) -> Path:
    """A client certificate from a CA the gateway does not know."""
    rogue = CertificateAuthority(tmp_path / "rogue-pki")
    issued = rogue.issue_client_cert("agent", "pc-1", dt.timedelta(days=1))
    out = tmp_path / "rogue-agent"
    out.mkdir()
    (out / "agent.key").write_bytes(issued.key_pem)
    (out / "agent.crt").write_bytes(issued.cert_pem)
    return out


async def http(gw: RunningGateway, method: str, path: str, **kwargs: object) -> tuple[int, dict, str]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        async with s.request(method, gw.url + path, ssl=gw.browser_ssl(), allow_redirects=False, **kwargs) as r:
            return r.status, dict(r.headers), await r.text()
