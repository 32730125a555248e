"""How long `jiseki backup` and `jiseki restore` take at prefecture scale, and how big the file is
(a benchmark, not a test).

    .venv/bin/python -m bench.backup_bench [--staff 5000] [--pcs 5000] [--sessions 100000]

A gateway process (SQLite, TLS) runs while the data of `bench/console_bench.py` goes in (staff, PCs
with certificates, 30 days of sessions, 20,000 audit events); then, with the gateway still running,
`jiseki backup` (the SQLite online backup API, the data directory's keys, scrypt + AES-256-GCM) and
`jiseki restore` into a new data directory, each as the CLI runs them, timed from outside; then
`jiseki audit verify` on the restored copy. Results also go to bench/results/backup-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jiseki.config import AgentConfig, Config, GatewayConfig
from jiseki.demo.run import wait_for_port, write_config
from tests.conftest import free_port

from .console_bench import fill

PASSPHRASE = "bench-backup-passphrase-7"


def _cli(*args: str, env: dict[str, str]) -> float:
    """Run `jiseki ARGS`; its wall time in seconds (fails loudly)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jiseki", *args], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(staff: int, pcs: int, sessions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jiseki-backup-bench-") as tmp:
        root = Path(tmp)
        port = free_port()
        gateway = GatewayConfig(host="127.0.0.1", port=port, data_dir=root / "gateway")
        config_path = root / "jiseki.toml"
        write_config(config_path, gateway, AgentConfig())
        env = dict(os.environ, JISEKI_BACKUP_PASSPHRASE=PASSPHRASE)
        proc = subprocess.Popen(
            [sys.executable, "-m", "jiseki", "gateway", "--config", str(config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not wait_for_port("127.0.0.1", port, 30):
                raise SystemExit("the gateway did not start")
            asyncio.run(fill(Config(gateway=gateway), root, staff, pcs, sessions))
            database = gateway.data_dir / "jiseki.db"
            out = root / "backup.jsk"
            backup_s = _cli("backup", str(out), "--config", str(config_path), env=env)
        finally:
            proc.terminate()
            proc.wait(10)
        restored = root / "restored"
        restore_s = _cli("restore", str(out), "--data-dir", str(restored), env=env)
        restored_config = root / "restored.toml"
        write_config(restored_config, GatewayConfig(port=free_port(), data_dir=restored), AgentConfig())
        verify_s = _cli("audit", "verify", "--config", str(restored_config), env=env)
        return {
            "database_mb": round(database.stat().st_size / 1e6, 1),
            "backup_mb": round(out.stat().st_size / 1e6, 1),
            "backup_mode": oct(out.stat().st_mode & 0o777),
            "backup_seconds (gateway running)": round(backup_s, 2),
            "restore_seconds": round(restore_s, 2),
            "audit_verify_seconds (restored copy)": round(verify_s, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=5000)
    parser.add_argument("--pcs", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=100_000)
    args = parser.parse_args()
    results = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs",
        "data": {"staff": args.staff, "pcs": args.pcs, "sessions": args.sessions, "audit_events": 20_000},
        **run(args.staff, args.pcs, args.sessions),
    }
    text = json.dumps(results, ensure_ascii=False, indent=2)
    print(text)
    out = Path(__file__).parent / "results" / f"backup-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(text + "\n", "utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
