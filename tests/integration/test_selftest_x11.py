"""`jiseki agent selftest` as IT runs it, on a real X server (Xvfb with a JIS layout) against a real
gateway over TLS, with the certificate the gateway issued to an office PC; the command runs in a
process of its own, as on the PC."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jiseki.demo.processes import ProcessGroup
from tests.conftest import free_port
from tests.integration.conftest import RunningGateway
from tests.xhost import set_layout, start_xvfb

pytestmark = pytest.mark.skipif(
    any(shutil.which(p) is None for p in ("Xvfb", "setxkbmap", "xclip")),
    reason="Xvfb, setxkbmap and xclip are required",
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    group = ProcessGroup()
    try:
        desktop = start_xvfb(group)
        set_layout(desktop.display, "jp106", "jp")
        yield desktop.display
    finally:
        group.stop_all()


def agent_config(tmp_path: Path, gateway_url: str, cert_dir: Path, display: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        f'[agent]\ngateway_url = "{gateway_url}"\ncert_dir = "{cert_dir}"\ndisplay = "{display}"\n', "utf-8"
    )
    return path


async def selftest(config: Path, *args: str) -> tuple[int, str, str]:
    """`jiseki agent selftest` in a new interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY" and not k.startswith("JISEKI_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jiseki",
        "agent",
        "selftest",
        "--config",
        str(config),
        *args,
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_an_enrolled_pc_passes(gateway: RunningGateway, x_display: str, tmp_path: Path) -> None:
    config = agent_config(tmp_path, gateway.url, gateway.root / "agents" / "pc-1", x_display)
    status, out, err = await selftest(config, "--json", "--seconds", "1")
    doc = json.loads(out)
    checks = {c["name"]: c for c in doc["checks"]}
    summary = {name: c["status"] for name, c in checks.items()}
    assert summary == {
        "capture": "pass",
        "picture": "pass",
        "input": "pass",
        "clipboard": "pass",
        "curtain": "skip",  # X11 has no privacy screen
        "gateway": "pass",
        "service": "skip",  # the Windows service
        "lock": "skip",  # only with --lock
    }, json.dumps(doc, ensure_ascii=False, indent=1) + err
    assert status == 0 and doc["exit_status"] == 0
    assert checks["capture"]["figures"]["method"] == "x11"
    assert checks["capture"]["figures"]["damage_seen"] is True  # XDamage reported the repainted probe
    assert checks["input"]["figures"]["keys_received"] == checks["input"]["figures"]["keys_sent"]
    assert checks["input"]["figures"]["text"] == "jskA\r\\"  # a JIS layout: the ¥ key types a backslash
    gw = checks["gateway"]["figures"]
    assert gw["tls_version"] in ("TLSv1.2", "TLSv1.3") and gw["http_status"] == 200
    assert gw["agent_cert_days_left"] > 30 and gw["gateway_cert_trusted"] is True
    assert checks["curtain"]["figures"]["released"] == ["released"]


async def test_a_closed_gateway_port_fails_with_a_non_zero_exit(
    gateway: RunningGateway, x_display: str, tmp_path: Path
) -> None:
    wrong = f"https://127.0.0.1:{free_port()}"
    config = agent_config(tmp_path, wrong, gateway.root / "agents" / "pc-1", x_display)
    record = tmp_path / "pc-1-selftest.json"
    args = ("--skip", "capture", "--skip", "input", "--seconds", "0.5", "--output", str(record))
    status, out, _err = await selftest(config, *args)
    assert status == 1
    kept = json.loads(record.read_text("utf-8"))  # the record IT keeps: JSON, whatever was printed
    assert kept["exit_status"] == 1 and {c["name"]: c["status"] for c in kept["checks"]}["gateway"] == "fail"
    lines = out.splitlines()
    failed = [line for line in lines if line.startswith("[不合格 FAIL] ゲートウェイ接続 / Gateway connection:")]
    assert len(failed) == 1 and "ConnectionRefusedError" in failed[0], out
    assert any(line.startswith("[合格 PASS] 画像 / Picture:") for line in lines), out
    assert lines[-1] == "結果: 合格 2、要確認 0、不合格 1、省略 5 / Result: 2 passed, 0 to check, 1 failed, 5 skipped"


async def test_an_output_folder_that_does_not_exist_is_refused_before_any_check(
    gateway: RunningGateway, x_display: str, tmp_path: Path
) -> None:
    config = agent_config(tmp_path, gateway.url, gateway.root / "agents" / "pc-1", x_display)
    status, out, err = await selftest(config, "--output", str(tmp_path / "missing" / "r.json"))
    assert status == 2 and "no such folder" in err and out == ""
