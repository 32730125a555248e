"""The chain's head as this node last sealed it, kept in a file outside the database.

Someone who can write to the database but not to the gateway's data directory (a database
administrator, an SQL injection, a stolen database password) can delete the newest audit records
and leave a chain that verifies on its own. The sealer writes the seq and hash of the newest record
it sealed to `<data_dir>/audit/head.json` (0600) after every commit, only ever forward, and
`jiseki audit verify` requires that record to still be in the chain.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .chain import Head

log = logging.getLogger(__name__)


class HeadFileError(Exception):
    """The head file exists but cannot be read or is damaged."""


class HeadFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> HeadFile:
        return cls(data_dir / "audit" / "head.json")

    def read(self) -> Head | None:
        """The recorded head; None when nothing was sealed with this data directory yet."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HeadFileError(f"cannot read the audit head file {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
            return Head.parse(f"{int(data['seq'])}:{data['hash']}")
        except (ValueError, KeyError, TypeError):
            raise HeadFileError(f"the audit head file {self.path} is damaged") from None

    def advance(self, head: Head) -> None:
        """Record `head` unless the file already holds a later one (several processes may seal:
        the gateway and a command; the lock orders them)."""
        import fcntl  # the gateway runs on Linux; imported here so that nothing else depends on it

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock_fd = os.open(self.path.with_name(".head.lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                current = self.read()
                if current is not None and current.seq >= head.seq:
                    return
                tmp = self.path.with_name(".head.json.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"seq": head.seq, "hash": head.hash}, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            finally:
                os.close(lock_fd)
        except (OSError, HeadFileError) as exc:
            log.error("the audit chain's head (seq %d) could not be recorded in %s: %s", head.seq, self.path, exc)
