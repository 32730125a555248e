"""The gateway's optional log file (`gateway.log_file`): beside standard error (journald under
systemd), rotated by size, each file 0640 (the jiseki user writes, its group — e.g. the log
collector's — reads; nobody else)."""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MODE = 0o640


class _Rotating(RotatingFileHandler):
    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, MODE)
        os.fchmod(fd, MODE)  # whatever the umask (the command sets 077) or an older file's mode
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def add_log_file(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    """Log to `path` too (on the root logger), rotated at `max_bytes` with `backups` files kept."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    handler = _Rotating(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    return handler
