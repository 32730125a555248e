"""One TOML configuration file for every jiseki process, validated on load.

A bad value gives `ConfigError` with a one-line message that names the key, e.g.
`gateway.port: must be an integer from 1 to 65535, got "abc"`.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    data_dir: Path = Path("/var/lib/jiseki")
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1")
    database_url: str = ""  # empty: SQLite file in data_dir
    # Until staff login exists a single access token guards the viewer. Prefer the
    # JISEKI_ACCESS_TOKEN environment variable to keep it out of files.
    access_token: str = ""

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'jiseki.db'}"


@dataclass(frozen=True)
class AgentConfig:
    gateway_url: str = "https://127.0.0.1:8443"
    cert_dir: Path = Path("/var/lib/jiseki-agent")
    display: str = ""  # empty: $DISPLAY
    max_fps: int = 30
    jpeg_quality: int = 80
    max_unacked: int = 2


@dataclass(frozen=True)
class Config:
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)


def _int(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{key}: must be an integer from {lo} to {hi}, got {value!r}")
    return value


def _str(key: str, value: Any, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        raise ConfigError(f"{key}: must be a {'non-empty ' if not allow_empty else ''}string, got {value!r}")
    if "\x00" in value:
        raise ConfigError(f"{key}: must not contain NUL characters")
    return value


def _path(key: str, value: Any) -> Path:
    return Path(_str(key, value, allow_empty=False)).expanduser()


def _host(key: str, value: Any) -> str:
    text = _str(key, value, allow_empty=False)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not all(part and len(part) <= 63 and part.replace("-", "").isalnum() for part in text.split(".")):
            raise ConfigError(f"{key}: {text!r} is neither an IP address nor a host name") from None
    return text


def _names(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: must be a non-empty list of host names, got {value!r}")
    return tuple(_host(f"{key}[{i}]", item) for i, item in enumerate(value))


def _https_url(key: str, value: Any) -> str:
    text = _str(key, value, allow_empty=False)
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{key}: must be an https:// URL, got {text!r}")
    return text.rstrip("/")


def _db_url(key: str, value: Any) -> str:
    text = _str(key, value)
    if text and not text.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql+psycopg://")):
        raise ConfigError(f"{key}: must start with sqlite+aiosqlite://, postgresql+asyncpg:// or postgresql+psycopg://")
    return text


_GATEWAY_KEYS = {
    "host": lambda k, v: _host(k, v),
    "port": lambda k, v: _int(k, v, 1, 65535),
    "data_dir": _path,
    "server_names": _names,
    "database_url": _db_url,
    "access_token": lambda k, v: _str(k, v),
}
_AGENT_KEYS = {
    "gateway_url": _https_url,
    "cert_dir": _path,
    "display": lambda k, v: _str(k, v),
    "max_fps": lambda k, v: _int(k, v, 1, 120),
    "jpeg_quality": lambda k, v: _int(k, v, 10, 100),
    "max_unacked": lambda k, v: _int(k, v, 1, 16),
}


def _section(name: str, raw: Any, validators: dict[str, Any], cls: type) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: must be a table")
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown setting (known: {', '.join(sorted(known))})")
        values[key] = validators[key](f"{name}.{key}", value)
    return cls(**values)


def parse_config(raw: dict[str, Any]) -> Config:
    for key in raw:
        if key not in ("gateway", "agent"):
            raise ConfigError(f"{key}: unknown section (known: agent, gateway)")
    config = Config(
        gateway=_section("gateway", raw.get("gateway"), _GATEWAY_KEYS, GatewayConfig),
        agent=_section("agent", raw.get("agent"), _AGENT_KEYS, AgentConfig),
    )
    token = os.environ.get("JISEKI_ACCESS_TOKEN")
    if token:
        config = replace(config, gateway=replace(config.gateway, access_token=token))
    return config


def load_config(path: Path | None) -> Config:
    """Load and validate `path`; None gives the defaults (plus environment overrides)."""
    if path is None:
        return parse_config({})
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(raw)
