"""What the gateway writes is readable by its own user only: data directory 0700, database (with its WAL),
recordings and exports 0600, even when started with the usual umask 022."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from jiseki.config import Config, GatewayConfig
from jiseki.gateway.db.engine import make_engine, upgrade_to_head
from jiseki.gateway.pki import CertificateAuthority
from jiseki.gateway.policies_db import set_policy
from jiseki.gateway.state import open_state
from jiseki.protocol import Desktop, FillOp, Monitor, StatusCode, Update, decode_from_agent, encode
from tests.conftest import engine_under_test, free_port

from .conftest import Browser, RunningGateway, provision

pytestmark = pytest.mark.skipif(engine_under_test() == "postgresql", reason="modes of the SQLite files")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def jiseki(config: Path, *args: str) -> subprocess.Popen[bytes]:
    # umask 022, as in a login shell: the files must not rely on the caller's umask to stay private.
    return subprocess.Popen(
        [sys.executable, "-m", "jiseki", "--config", str(config), *args],
        umask=0o022,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def _record_a_session(gw: RunningGateway) -> None:
    async with Browser(gw, gw.terminal_ssl()) as b, aiohttp.ClientSession() as s:
        status, _page, _r = await b.login(gw.staff["alice"])
        assert status == 303
        control = await s.ws_connect(gw.url + "/agent/control", ssl=gw.agent_ssl())
        await control.send_str(json.dumps({"type": "hello"}))
        await asyncio.sleep(0.2)
        status, created = await b.request_session("pc-1")
        assert status == 201, created
        viewer = await b.viewer_socket(created)
        offer = json.loads((await control.receive(timeout=5)).data)
        agent = await s.ws_connect(f"{gw.url}{offer['path']}?ticket={offer['ticket']}", ssl=gw.agent_ssl())
        await agent.send_bytes(encode(Desktop(64, 64, (Monitor(0, 0, 64, 64),))))
        await agent.send_bytes(encode(Update(1, (FillOp(0, 0, 64, 64, 1, 2, 3),))))
        seen = []
        while not any(isinstance(m, Update) for m in seen):
            seen.append(decode_from_agent((await viewer.receive(timeout=5)).data))
        recordings = gw.config.gateway.data_dir / "recordings"
        for _ in range(50):
            if any(p.is_file() for p in recordings.rglob("*")):
                break
            await asyncio.sleep(0.1)
        await viewer.close()
        await agent.close()
        await control.close()
    assert all(getattr(m, "code", None) != StatusCode.SESSION_ENDED for m in seen)


async def test_gateway_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var" / "lib" / "jiseki"  # parents created by the gateway too
    port = free_port()
    config_path = tmp_path / "jiseki.toml"
    config_path.write_text(
        f'[gateway]\nport = {port}\ndata_dir = "{data_dir}"\ndrain_seconds = 1\n[auth]\naddress_max_failures = 1000\n',
        "utf-8",
    )
    gateway = jiseki(config_path, "gateway")
    try:
        for _ in range(300):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                assert gateway.poll() is None, gateway.communicate()[0].decode()
                await asyncio.sleep(0.1)
        config = Config(gateway=GatewayConfig(port=port, data_dir=data_dir))
        staff = await provision(config, tmp_path)  # the database exists: the gateway made it
        state = await open_state(config)
        try:
            async with state.db.begin() as s:
                await set_policy(s, "department", "総務課", {"record": True}, "test")
        finally:
            await state.engine.dispose()
        ca = CertificateAuthority(data_dir / "pki")
        gw = RunningGateway(config, f"https://127.0.0.1:{port}", tmp_path, ca, staff)
        await _record_a_session(gw)

        db = data_dir / "jiseki.db"
        files = [db, db.with_name("jiseki.db-wal"), db.with_name("jiseki.db-shm")]
        recordings = [p for p in (data_dir / "recordings").rglob("*") if p.is_file()]
        assert recordings, "no recording was made"
        files += [p for p in data_dir.rglob("*") if p.is_file() and p not in files]  # recordings, keys, certificates
        dirs = [tmp_path / "var", tmp_path / "var" / "lib", data_dir, *(p for p in data_dir.rglob("*") if p.is_dir())]
        wrong = [f"{p.relative_to(tmp_path)} {oct(mode(p))}" for p in files if mode(p) != 0o600]
        wrong += [f"{p.relative_to(tmp_path)}/ {oct(mode(p))}" for p in dirs if mode(p) != 0o700]
        assert not wrong, "not private:\n" + "\n".join(wrong)
    finally:
        gateway.terminate()
        gateway.wait(20)

    export = tmp_path / "audit.csv"
    done = jiseki(config_path, "audit", "export", "--out", str(export))
    assert done.wait(60) == 0, done.communicate()[0].decode()
    assert mode(export) == 0o600


async def test_a_new_sqlite_database_is_private_without_the_cli_umask(tmp_path: Path) -> None:
    """The engine itself creates the file 0600 (in-process use: tests, benchmarks); the WAL follows it."""
    previous = os.umask(0o022)
    try:
        db = tmp_path / "data" / "jiseki.db"
        db.parent.mkdir()
        engine = make_engine(f"sqlite+aiosqlite:///{db}")
        try:
            await upgrade_to_head(engine)
            wrong = [f"{p.name} {oct(mode(p))}" for p in sorted(db.parent.iterdir()) if mode(p) != 0o600]
            assert len(list(db.parent.iterdir())) == 3 and not wrong, wrong
        finally:
            await engine.dispose()
    finally:
        os.umask(previous)
