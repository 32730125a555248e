"""Encrypted backups of a gateway: the database (consistent while the gateway runs), the data
directory's keys and files, the configuration file, and a manifest; and their restoration.

The file: a header (magic, version, scrypt parameters, salt, nonce prefix) then chunks of the tar
stream, each sealed with AES-256-GCM under a key derived from the passphrase with scrypt. A chunk's
nonce holds its number and whether it is the last, and every chunk authenticates the header: a
wrong passphrase, a changed byte, chunks reordered or the file cut short all fail as one error.

Pure parts (the format, `EncryptingWriter` / `DecryptingReader`) are apart from the IO (`create_backup`,
`restore_backup`), which call sqlite3's backup API or `pg_dump` / `pg_restore`."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"JISEKIBK"
VERSION = 1
CHUNK = 1 << 20
SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P = 15, 8, 1
_HEADER = struct.Struct(">8sBBBB16s7s")  # magic, version, log2 N, r, p, salt, nonce prefix
_LENGTH = struct.Struct(">I")
TAG = 16
MANIFEST = "manifest.json"
SQLITE_NAME = "database/jiseki.db"
PG_NAME = "database/postgresql.dump"
DATA_PREFIX = "data/"
CONFIG_NAME = "config/jiseki.toml"
# Files of the SQLite database itself (taken through the backup API instead) and of locks.
_SKIP = {"jiseki.db", "jiseki.db-wal", "jiseki.db-shm", "jiseki.db-journal"}


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why, for the operator."""


BAD_FILE = "wrong passphrase or damaged file"


def _key(passphrase: bytes, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    if not (10 <= log_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        raise BackupError(BAD_FILE)
    return Scrypt(salt=salt, length=32, n=1 << log_n, r=r, p=p).derive(passphrase)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class EncryptingWriter(io.RawIOBase):
    """A write-only stream that seals what it is given, chunk by chunk, into `out`."""

    def __init__(self, out: IO[bytes], passphrase: bytes) -> None:
        super().__init__()
        salt, prefix = os.urandom(16), os.urandom(7)
        self._header = _HEADER.pack(MAGIC, VERSION, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, salt, prefix)
        self._aead = AESGCM(_key(passphrase, salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P))
        self._prefix, self._out, self._buffer, self._counter = prefix, out, bytearray(), 0
        out.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += bytes(data)
        while len(self._buffer) > CHUNK:  # keep at least one byte back: the last chunk is marked
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, plain: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._counter, last), plain, self._header)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._counter += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


class DecryptingReader(io.RawIOBase):
    """A read-only stream of what `EncryptingWriter` sealed; `BackupError(BAD_FILE)` on any damage."""

    def __init__(self, source: IO[bytes], passphrase: bytes) -> None:
        super().__init__()
        header = source.read(_HEADER.size)
        if len(header) != _HEADER.size:
            raise BackupError(BAD_FILE)
        magic, version, log_n, r, p, salt, prefix = _HEADER.unpack(header)
        if magic != MAGIC:
            raise BackupError("not a jiseki backup file")
        if version != VERSION:
            raise BackupError(f"backup format version {version} is not supported by this jiseki (it reads {VERSION})")
        self._header, self._prefix, self._source = header, prefix, source
        self._aead = AESGCM(_key(passphrase, salt, log_n, r, p))
        self._plain, self._counter, self._done = b"", 0, False

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        raw = self._source.read(_LENGTH.size)
        if len(raw) != _LENGTH.size:
            raise BackupError(BAD_FILE)  # cut short before the last chunk
        (length,) = _LENGTH.unpack(raw)
        if not TAG <= length <= CHUNK + TAG:
            raise BackupError(BAD_FILE)
        sealed = self._source.read(length)
        if len(sealed) != length:
            raise BackupError(BAD_FILE)
        for last in (False, True):
            try:
                self._plain = self._aead.decrypt(_nonce(self._prefix, self._counter, last), sealed, self._header)
            except InvalidTag:
                continue
            self._counter += 1
            self._done = last
            if last and self._source.read(1):
                raise BackupError(BAD_FILE)  # something appended after the last chunk
            return
        raise BackupError(BAD_FILE)

    def readinto(self, target: Any) -> int:
        while not self._plain and not self._done:
            self._next()
        n = min(len(target), len(self._plain))
        target[:n] = self._plain[:n]
        self._plain = self._plain[n:]
        return n


@dataclass(frozen=True)
class PgTarget:
    """A PostgreSQL URL as libpq's environment: the password never reaches a command line."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def parse(cls, url: str) -> PgTarget:
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgresql"):
            raise BackupError(f"not a PostgreSQL URL: {parts.scheme}://…")
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise BackupError("the PostgreSQL URL names no database")
        return cls(
            parts.hostname or "localhost",
            parts.port or 5432,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            database,
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGDATABASE=self.database, PGCONNECT_TIMEOUT="10")
        if self.user:
            env["PGUSER"] = self.user
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def _tool(name: str) -> str:
    bindir = os.environ.get("JISEKI_PG_BINDIR")
    found = str(Path(bindir) / name) if bindir else shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found (install the PostgreSQL client, or set JISEKI_PG_BINDIR)")
    return found


def _run(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[-800:]}")


def snapshot_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included), through SQLite's backup API."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=4096)
        finally:
            dst.close()
    finally:
        src.close()


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for any other database."""
    if not url.startswith("sqlite"):
        return None
    return Path(url.split(":///", 1)[1])


def schema_revision(url: str) -> str:
    """The Alembic revision the database is at, read without SQLAlchemy's async machinery."""
    path = sqlite_path(url)
    if path is None:
        return ""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else ""
    except sqlite3.Error:
        return ""
    finally:
        db.close()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(dt.datetime.now(dt.UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _add_tree(tar: tarfile.TarFile, root: Path, skip_dirs: set[str]) -> int:
    count = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip_dirs or (len(rel.parts) == 1 and rel.name in _SKIP) or path.is_symlink():
            continue
        if path.is_file():
            try:
                tar.add(path, DATA_PREFIX + rel.as_posix(), recursive=False)
            except FileNotFoundError:  # removed while we walked (a finished job's temporary file)
                continue
            count += 1
    return count


def create_backup(
    out: Path,
    passphrase: bytes,
    data_dir: Path,
    database_url: str,
    config_path: Path | None,
    node_id: str,
    schema: str,
    app_version: str,
    with_recordings: bool = True,
) -> dict[str, Any]:
    """Write the encrypted backup to `out` (0600, written beside it then renamed); returns the manifest."""
    if not passphrase:
        raise BackupError("the passphrase is empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    manifest: dict[str, Any] = {
        "format": VERSION,
        "jiseki_version": app_version,
        "schema_revision": schema,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "node_id": node_id,
        "host": socket.gethostname(),
        "database": "sqlite" if sqlite_path(database_url) else "postgresql",
        "config": config_path is not None,
    }
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with tempfile.TemporaryDirectory(prefix="jiseki-backup-") as tmp, os.fdopen(fd, "wb") as raw:
        writer = EncryptingWriter(raw, passphrase)
        with tarfile.open(fileobj=writer, mode="w|") as tar:
            # The files first, then the database: the audit head file is then never ahead of the
            # database's chain (the gateway only ever advances it after sealing).
            skip = set() if with_recordings else {"recordings"}
            manifest["files"] = _add_tree(tar, data_dir, skip)
            if config_path is not None:
                tar.add(config_path, CONFIG_NAME, recursive=False)
            path = sqlite_path(database_url)
            if path is not None:
                snap = Path(tmp) / "jiseki.db"
                snapshot_sqlite(path, snap)
                tar.add(snap, SQLITE_NAME, recursive=False)
            else:
                dump = Path(tmp) / "pg.dump"
                target = PgTarget.parse(database_url)
                _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(dump)], target.env())
                tar.add(dump, PG_NAME, recursive=False)
            _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode())
        writer.close()
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, out)
    return manifest


def _open_archive(path: Path, passphrase: bytes) -> tuple[IO[bytes], tarfile.TarFile]:
    source = path.open("rb")
    try:
        reader = io.BufferedReader(DecryptingReader(source, passphrase), CHUNK)
        return source, tarfile.open(fileobj=reader, mode="r|")
    except (tarfile.TarError, BackupError) as exc:
        source.close()
        raise exc if isinstance(exc, BackupError) else BackupError(BAD_FILE) from None


def _safe_name(name: str) -> str:
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BackupError(f"unexpected name in the backup: {name!r}")
    return name


def restore_backup(
    path: Path, passphrase: bytes, data_dir: Path, database_url: str = "", force: bool = False
) -> dict[str, Any]:
    """Restore into `data_dir` (new or empty unless `force`) and, for a PostgreSQL backup, into the
    empty database at `database_url`. Everything is read and checked in a staging directory before
    anything lands in `data_dir`. Returns the manifest."""
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise BackupError(f"{data_dir} is not empty (restore into a new directory, or use --force)")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as tmp:
        staging = Path(tmp)
        source, tar = _open_archive(path, passphrase)
        try:
            with source, tar:
                for member in tar:
                    name = _safe_name(member.name)
                    if not member.isfile():
                        continue
                    target = staging / name
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        shutil.copyfileobj(extracted, fh)
        except tarfile.TarError:
            raise BackupError(BAD_FILE) from None
        try:
            manifest = json.loads((staging / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            raise BackupError(BAD_FILE) from None
        if manifest.get("database") == "postgresql":
            if not database_url.startswith("postgresql"):
                raise BackupError("this backup holds a PostgreSQL database: give --database-url of an empty database")
            pg = PgTarget.parse(database_url)
            argv = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
            _run([*argv, "--dbname", pg.database, str(staging / PG_NAME)], pg.env())
        elif database_url and sqlite_path(database_url) is None:
            raise BackupError("this backup holds an SQLite database: restore it without --database-url")
        data = staging / DATA_PREFIX.rstrip("/")
        if data.is_dir():
            for item in data.iterdir():
                _move(item, data_dir / item.name)
        if manifest.get("database") == "sqlite":
            _move(staging / SQLITE_NAME, data_dir / "jiseki.db")
        if (staging / CONFIG_NAME).is_file():
            _move(staging / CONFIG_NAME, data_dir / "config-from-backup.toml")
    return dict(manifest)


def _move(source: Path, target: Path) -> None:
    if target.is_dir() and source.is_dir():
        for item in source.iterdir():
            _move(item, target / item.name)
        return
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(source, target)
