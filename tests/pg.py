"""A throwaway PostgreSQL server for the tests (Debian's postgresql package), one per test session.

`initdb` refuses to run as root, so the cluster belongs to the `postgres` system user; it listens on
127.0.0.1 on a free port with trust authentication and is stopped when the tests end. With `tls`
(a server certificate chain and key), it takes TCP connections over TLS only (`hostssl`).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(argv: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    # Output goes to a file, not a pipe: the server that pg_ctl starts would inherit a pipe and keep it
    # open, and we would wait for its end forever.
    with tempfile.TemporaryFile("w+") as out:
        result = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, check=False, timeout=120
        )
        out.seek(0)
        return subprocess.CompletedProcess(argv, result.returncode, "", out.read())


class PostgresServer:
    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="jiseki-pg-"))
        shutil.chown(self.dir, "postgres") if os.geteuid() == 0 else None
        self.port = free_port()
        data = self.dir / "data"
        result = _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "jiseki",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr[-500:]}")
        self.options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        if tls is not None:
            self._require_tls(data, *tls)
        result = _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", self.options, "-l", str(self.dir / "log"), "-w", "start"]
        )
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr[-500:]}")

    def _require_tls(self, data: Path, cert: Path, key: Path) -> None:
        for source, name in ((cert, "server.crt"), (key, "server.key")):
            shutil.copyfile(source, data / name)
            os.chmod(data / name, 0o600)  # the server refuses a key others can read
            shutil.chown(data / name, "postgres") if os.geteuid() == 0 else None
        (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
        self.options += " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"

    def psql(self, sql: str, database: str = "postgres") -> None:
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "jiseki",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr)

    def new_database(self) -> str:
        """An empty database; returns its SQLAlchemy URL."""
        name = "t_" + secrets.token_hex(6)
        self.psql(f"CREATE DATABASE {name}")
        return f"postgresql+asyncpg://jiseki@127.0.0.1:{self.port}/{name}"

    def restart(self) -> None:
        data = self.dir / "data"
        _as_postgres(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "fast",
                "-w",
                "restart",
                "-o",
                self.options,
            ]
        )

    def stop(self) -> None:
        _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)
