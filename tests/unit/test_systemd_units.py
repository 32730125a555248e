"""The systemd units in packaging/systemd: the hardening the deployment guide promises, a stop timeout
longer than the gateway's drain, and (where systemd-analyze exists) no warning from `verify`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from jiseki.config import GatewayConfig

UNITS = Path(__file__).resolve().parents[2] / "packaging" / "systemd"
GATEWAY_HARDENING = {
    "User": "jiseki",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
    "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    "SystemCallFilter": "@system-service",
    "ReadWritePaths": "/var/lib/jiseki /var/log/jiseki",
    "UMask": "0077",
}


def _service(name: str) -> dict[str, list[str]]:
    """The [Service] section's keys, each with every value given (systemd allows repeats)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in (UNITS / name).read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_the_gateway_unit_is_hardened_and_waits_for_the_drain() -> None:
    service = _service("jiseki-gateway@.service")
    for key, value in GATEWAY_HARDENING.items():
        assert value in service.get(key, []), key
    assert service["EnvironmentFile"] == ["-/etc/jiseki/%i.env"]
    assert int(service["TimeoutStopSec"][0]) >= GatewayConfig().drain_seconds + 15
    assert service["KillSignal"] == ["SIGTERM"]  # SIGTERM drains (server.py); SIGINT would not
    assert "MemoryDenyWriteExecute" not in service


def test_the_agent_and_backup_units_keep_to_their_directories() -> None:
    agent = _service("jiseki-agent.service")
    assert agent["ProtectSystem"] == ["strict"] and agent["NoNewPrivileges"] == ["yes"]
    assert agent["ReadWritePaths"] == ["/var/lib/jiseki-agent"] and agent["CapabilityBoundingSet"] == [""]
    backup = _service("jiseki-backup@.service")
    assert backup["EnvironmentFile"][0] == "/etc/jiseki/backup.env"  # the passphrase, never an argument
    assert "--passphrase" not in backup["ExecStart"][0] and " backup " in backup["ExecStart"][0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    names = []
    for unit in UNITS.iterdir():
        # Instances of the templates, with an executable that exists here.
        name = unit.name.replace("@.", "@node-a.")
        (tmp_path / name).write_text(unit.read_text("utf-8").replace("/opt/jiseki/bin/jiseki", "/bin/true"), "utf-8")
        names.append(str(tmp_path / name))
    bad = tmp_path / "bad@node-a.service"
    bad.write_text((tmp_path / "jiseki-gateway@node-a.service").read_text().replace("=strict", "=stritc"))
    for units, clean in ((names, True), ([str(bad)], False)):
        result = subprocess.run(
            ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60, check=False
        )
        warnings = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
        assert (not warnings) == clean, result.stderr
