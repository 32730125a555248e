"""A real gateway (TLS, SQLite, migrations) in the test's event loop, with registered terminals,
office PCs and staff, and TLS clients for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import pytest

from jiseki.config import AuthConfig, Config, GatewayConfig
from jiseki.config_directory import DirectoryConfig
from jiseki.config_mail import MailConfig
from jiseki.gateway.admin import create_user
from jiseki.gateway.auth import totp
from jiseki.gateway.certs import record_issued
from jiseki.gateway.db.models import User
from jiseki.gateway.hosts import assign, register_host
from jiseki.gateway.pki import CertificateAuthority, client_ssl_context, write_private
from jiseki.gateway.server import serve
from jiseki.gateway.state import open_state
from jiseki.gateway.terminals import _upsert
from tests.conftest import engine_under_test, free_port
from tests.pool_probe import NestedCheckouts

PASSWORD = "Correct-Horse-7-Battery"


@dataclass
class Staff:
    login_id: str
    password: str
    totp_secret: str | None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass (JISEKI_TEST_DB=postgresql) runs the tests marked `database`: queries,
    atomic writes, migrations, the console's lists and reports. The others (relay, resume, input,
    capture, roles) send the same statements as on SQLite; test_nodes is on PostgreSQL in every pass."""
    if engine_under_test() != "postgresql":
        return
    keep = [item for item in items if item.get_closest_marker("database")]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.fixture(autouse=True)
def no_nested_connections() -> Iterator[None]:
    """Fail a test during which any task took a second pooled connection while holding one (see
    tests/pool_probe.py: under load, that starves the pool and every request fails)."""
    with NestedCheckouts() as probe:
        yield
    assert not probe.found, "connections taken while holding one:\n" + "\n".join(probe.found)


@dataclass
class RunningGateway:
    config: Config
    url: str
    root: Path
    ca: CertificateAuthority
    staff: dict[str, Staff] = field(default_factory=dict)

    def agent_ssl(self, host_id: str = "pc-1") -> ssl.SSLContext:
        d = self.root / "agents" / host_id
        return client_ssl_context(d / "ca.crt", d / "agent.crt", d / "agent.key")

    def terminal_ssl(self, terminal_id: str = "term-1") -> ssl.SSLContext:
        d = self.root / "terminals" / terminal_id
        return client_ssl_context(self.ca.root_cert_path, d / "terminal.crt", d / "terminal.key")

    def plain_ssl(self) -> ssl.SSLContext:
        return client_ssl_context(self.ca.root_cert_path)

    def db_url(self) -> str:
        return self.config.gateway.effective_database_url


def write_terminal(ca: CertificateAuthority, out: Path, terminal_id: str, lifetime: dt.timedelta):  # type: ignore[no-untyped-def]
    issued = ca.issue_client_cert("terminal", terminal_id, lifetime)
    write_private(out / "terminal.crt", issued.cert_pem)
    write_private(out / "terminal.key", issued.key_pem)
    return issued


async def provision(config: Config, root: Path) -> dict[str, Staff]:
    """pc-1 (alice) and pc-2 (bob); terminals term-1 and term-2; carol has no one-time code yet."""
    state = await open_state(config)
    staff = {}
    try:
        async with state.db.begin() as s:
            for host in ("pc-1", "pc-2"):
                await register_host(s, state.ca, host, f"PC {host}", root / "agents" / host)
            for term in ("term-1", "term-2"):
                issued = write_terminal(state.ca, root / "terminals" / term, term, dt.timedelta(days=30))
                await _upsert(s, term, f"Terminal {term}", issued.fingerprint)
                await s.flush()
                await record_issued(s, issued.cert, "terminal", term)
            for login_id, host, with_totp in (("alice", "pc-1", True), ("bob", "pc-2", True), ("carol", "pc-1", False)):
                await create_user(
                    s, state.password_policy, login_id, login_id.title(), "総務課", "staff", PASSWORD, "test"
                )
                secret = None
                if with_totp:
                    secret = totp.new_secret()
                    user = await s.get(User, login_id)
                    assert user is not None
                    user.totp_secret, user.totp_enabled = state.box.seal(secret), True
                await assign(s, login_id, host)
                staff[login_id] = Staff(login_id, PASSWORD, secret)
    finally:
        await state.engine.dispose()
    return staff


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(lockout_threshold=3, lockout_seconds=2, address_max_failures=1000)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """Empty: the embedded SQLite file; with JISEKI_TEST_DB=postgresql, a fresh PostgreSQL database."""
    if engine_under_test() != "postgresql":
        return ""
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def gateway_options() -> dict[str, object]:
    """Extra GatewayConfig values; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
def directory_config() -> DirectoryConfig:
    """The gateway's [directory] settings; a test module overrides this fixture (tests/directory_server.py)."""
    return DirectoryConfig()


@pytest.fixture
def mail_config() -> MailConfig:
    """The gateway's [mail] settings; tests/integration/test_alerts.py points it at a test SMTP server."""
    return MailConfig()


@pytest.fixture
async def gateway(
    tmp_path: Path,
    auth_config: AuthConfig,
    database_url: str,
    gateway_options: dict[str, object],
    directory_config: DirectoryConfig,
    mail_config: MailConfig,
) -> AsyncIterator[RunningGateway]:
    gw = GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        data_dir=tmp_path / "gw",
        database_url=database_url,
        drain_seconds=1,
        **gateway_options,  # type: ignore[arg-type]
    )
    config = Config(gateway=gw, auth=auth_config, directory=directory_config, mail=mail_config)
    staff = await provision(config, tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop))
    for _ in range(200):
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", gw.port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    from jiseki.gateway.pki import CertificateAuthority

    try:
        yield RunningGateway(
            config, f"https://127.0.0.1:{gw.port}", tmp_path, CertificateAuthority(gw.data_dir / "pki"), staff
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)  # each step of the stop has its own 10 s deadline


def issue_other_ca_cert(tmp_path: Path, kind: str = "agent", ident: str = "pc-1") -> Path:
    """A client certificate from a CA the gateway does not know."""
    rogue = CertificateAuthority(tmp_path / "rogue-pki")
    issued = rogue.issue_client_cert(kind, ident, dt.timedelta(days=1))
    out = tmp_path / f"rogue-{kind}"
    write_private(out / "client.crt", issued.cert_pem)
    write_private(out / "client.key", issued.key_pem)
    return out


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def current_code(secret: str) -> str:
    return totp.code_at(secret, time.time())


class Browser:
    """An HTTP client that behaves like the terminal's browser: a certificate, cookies, Origin."""

    def __init__(self, gw: RunningGateway, ssl_ctx: ssl.SSLContext) -> None:
        self.gw = gw
        self.ssl = ssl_ctx
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def get(self, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.get(self.gw.url + path, ssl=self.ssl, allow_redirects=False) as r:
            return r.status, await r.text(), r

    async def post_form(self, path: str, data: dict[str, str]) -> tuple[int, str, aiohttp.ClientResponse]:
        headers = {"Origin": self.gw.url}
        async with self.http.post(
            self.gw.url + path, data=data, ssl=self.ssl, allow_redirects=False, headers=headers
        ) as r:
            return r.status, await r.text(), r

    async def login(self, staff: Staff, code: str | None = None) -> tuple[int, str, aiohttp.ClientResponse]:
        self.http.cookie_jar.clear(lambda c: c.key == "jiseki_session")  # as after closing the browser
        _status, page, _r = await self.get("/login")
        if code is None:
            code = current_code(staff.totp_secret) if staff.totp_secret else ""
        return await self.post_form(
            "/login",
            {"csrf_token": csrf_of(page), "login_id": staff.login_id, "password": staff.password, "code": code},
        )

    async def csrf(self) -> str:
        status, page, _r = await self.get("/")
        assert status == 200, page
        return csrf_of(page)

    async def request_session(self, host_id: str) -> tuple[int, dict]:
        headers = {"Origin": self.gw.url, "X-CSRF-Token": await self.csrf()}
        async with self.http.post(
            self.gw.url + "/api/sessions", json={"host_id": host_id}, ssl=self.ssl, headers=headers
        ) as r:
            return r.status, await r.json()

    async def session_socket(self, host_id: str, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        """The viewer's way: a socket that asks for a new session (its first message answers)."""
        url = f"{self.gw.url}/hosts/{host_id}/session"
        return await self.http.ws_connect(url, headers={"Origin": origin or self.gw.url}, ssl=self.ssl)

    async def viewer_socket(self, created: dict) -> aiohttp.ClientWebSocketResponse:
        url = f"{self.gw.url}/sessions/{created['session']}/viewer?ticket={created['ticket']}"
        return await self.http.ws_connect(url, headers={"Origin": self.gw.url}, ssl=self.ssl)


def with_config(config: Config, **auth: object) -> Config:
    return replace(config, auth=replace(config.auth, **auth))
