"""`jiseki backup` while a session runs and the gateway writes; `jiseki restore` into a new data
directory (and a new PostgreSQL database in the PostgreSQL pass); a gateway starts on it and the audit
chain verifies. A wrong passphrase and a cut file are refused with one clear message."""

from __future__ import annotations

import asyncio
import json
import stat
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from jiseki.cli import main
from jiseki.config import Config
from jiseki.gateway.server import serve
from tests.conftest import engine_under_test, free_port
from tests.integration.conftest import Browser, RunningGateway
from tests.integration.test_console_flows import _live_session

pytestmark = pytest.mark.database

PASSPHRASE = "kinko-no-kagi-2026"


def _config_file(path: Path, config: Config, data_dir: Path, database_url: str, port: int) -> Path:
    lines = [
        "[gateway]",
        f"data_dir = {json.dumps(str(data_dir))}",
        f"port = {port}",
        f"database_url = {json.dumps(database_url)}",
        "drain_seconds = 1",
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


async def _writes(gateway: RunningGateway, stop: asyncio.Event) -> int:
    """Failed logins (each an audit record and a counter update) until told to stop."""
    count = 0
    async with Browser(gateway, gateway.terminal_ssl("term-2")) as bob:
        while not stop.is_set():
            staff = replace(gateway.staff["bob"], password="wrong-password-123")
            await bob.login(staff)
            count += 1
    return count


async def test_backup_while_a_session_runs_restores_into_a_new_data_directory(
    gateway: RunningGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JISEKI_BACKUP_PASSPHRASE", PASSPHRASE)
    gw = gateway.config.gateway
    config = _config_file(tmp_path / "jiseki.toml", gateway.config, gw.data_dir, gw.database_url, gw.port)
    out = tmp_path / "backups" / "jiseki.bak"
    async with Browser(gateway, gateway.terminal_ssl()) as alice, aiohttp.ClientSession() as s:
        control, viewer, agent, _created = await _live_session(gateway, alice, s)
        stop = asyncio.Event()
        writer = asyncio.create_task(_writes(gateway, stop))
        await asyncio.sleep(0.3)
        code = await asyncio.to_thread(main, ["--config", str(config), "backup", str(out)])
        stop.set()
        assert await writer > 0
        assert not viewer.closed and not agent.closed  # the session went on
        for ws in (agent, viewer, control):
            await ws.close()
    assert code == 0, capsys.readouterr().err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert b"BEGIN" not in out.read_bytes() and b"SQLite format" not in out.read_bytes()  # encrypted

    # A new data directory and (PostgreSQL) a new, empty database.
    new_dir = tmp_path / "restored"
    new_url = ""
    if engine_under_test() == "postgresql":
        new_url = gw.database_url.rsplit("/", 1)[0] + "/" + await asyncio.to_thread(_new_pg_database, gw.database_url)
    argv = ["restore", str(out), "--data-dir", str(new_dir)] + (["--database-url", new_url] if new_url else [])
    code, text = await asyncio.to_thread(_cli, capsys, *argv)
    assert code == 0, text
    assert (new_dir / "pki").is_dir() and (new_dir / "secrets" / "totp.key").is_file()
    assert (new_dir / "config-from-backup.toml").is_file()
    assert (new_dir / "jiseki.db").is_file() == (not new_url)

    # A gateway starts on it: the same CA (the terminal's certificate still opens the portal) and staff.
    port = free_port()
    restored = replace(gateway.config, gateway=replace(gw, data_dir=new_dir, database_url=new_url, port=port))
    stop_restored = asyncio.Event()
    task = asyncio.create_task(serve(restored, stop_restored))
    try:
        running = RunningGateway(restored, f"https://127.0.0.1:{port}", gateway.root, gateway.ca, gateway.staff)
        for _ in range(200):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        async with Browser(running, running.terminal_ssl()) as carol:  # alice's code was used already
            status, _page, r = await carol.login(gateway.staff["carol"])
            assert status == 303 and r.headers["Location"] == "/login/totp"
    finally:
        stop_restored.set()
        await asyncio.wait_for(task, 10)
    new_config = _config_file(tmp_path / "restored.toml", restored, new_dir, new_url, port)
    code, text = await asyncio.to_thread(_cli, capsys, "--config", str(new_config), "audit", "verify")
    assert code == 0, text

    # Restoring again into the now full directory is refused.
    code, text = await asyncio.to_thread(_cli, capsys, *argv)
    assert code == 1 and "is not empty" in text


def _new_pg_database(url: str) -> str:
    import secrets
    import subprocess
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    name = "r_" + secrets.token_hex(6)
    subprocess.run(
        [
            "psql",
            "-h",
            parts.hostname or "",
            "-p",
            str(parts.port),
            "-U",
            parts.username or "",
            "-d",
            "postgres",
            "-c",
            f"CREATE DATABASE {name}",
        ],
        check=True,
        capture_output=True,
    )
    return name


async def test_wrong_passphrase_and_a_cut_file_are_refused(
    gateway: RunningGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = gateway.config.gateway
    config = _config_file(tmp_path / "jiseki.toml", gateway.config, gw.data_dir, gw.database_url, gw.port)
    out = tmp_path / "jiseki.bak"
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    code, text = await asyncio.to_thread(
        _cli, capsys, "--config", str(config), "backup", str(out), "--passphrase-file", str(secret)
    )
    assert code == 0, text
    monkeypatch.setenv("JISEKI_BACKUP_PASSPHRASE", "not-the-passphrase")
    code, text = await asyncio.to_thread(_cli, capsys, "restore", str(out), "--data-dir", str(tmp_path / "a"))
    assert code == 1 and "wrong passphrase or damaged file" in text
    assert not any((tmp_path / "a").iterdir())  # nothing restored

    data = out.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 100):
        (tmp_path / "cut.bak").write_bytes(data[:cut])
        target = str(tmp_path / f"b{cut}")
        argv = ["restore", str(tmp_path / "cut.bak"), "--data-dir", target, "--passphrase-file", str(secret)]
        code, text = await asyncio.to_thread(_cli, capsys, *argv)
        assert code == 1 and "wrong passphrase or damaged file" in text, text
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 1
    (tmp_path / "flip.bak").write_bytes(bytes(flipped))
    argv = ["restore", str(tmp_path / "flip.bak"), "--data-dir", str(tmp_path / "c"), "--passphrase-file", str(secret)]
    code, text = await asyncio.to_thread(_cli, capsys, *argv)
    assert code == 1 and "wrong passphrase or damaged file" in text
    monkeypatch.setenv("JISEKI_BACKUP_PASSPHRASE", "short")
    code, text = await asyncio.to_thread(_cli, capsys, "--config", str(config), "backup", str(tmp_path / "x.bak"))
    assert code == 1 and "at least 12 characters" in text
