"""One TOML configuration file for every jiseki process, validated on load.

A bad value gives `ConfigError` with a one-line message that names the key, e.g.
`gateway.port: must be an integer from 1 to 65535, got "abc"`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jiseki.config_directory import DirectoryConfig, parse_directory
from jiseki.config_mail import MailConfig, parse_mail
from jiseki.config_values import ConfigError, check_table
from jiseki.config_values import check_int as _int
from jiseki.config_values import check_str as _str

__all__ = ["Config", "ConfigError", "DirectoryConfig", "load_config", "parse_config"]


@dataclass(frozen=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    data_dir: Path = Path("/var/lib/jiseki")
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1")
    database_url: str = ""  # empty: SQLite file in data_dir
    # Pooled connections per node: nodes × (pool + overflow) must stay under PostgreSQL's max_connections.
    database_pool_size: int = 5
    database_max_overflow: int = 10
    # Source networks allowed to reach staff routes / agent routes; empty allows any.
    staff_networks: tuple[str, ...] = ()
    agent_networks: tuple[str, ...] = ()
    # Encrypts the CA keys. Prefer the JISEKI_CA_PASSPHRASE environment variable to keep it out of files.
    ca_passphrase: str = ""
    terminal_cert_days: int = 730
    agent_cert_days: int = 825
    # Several nodes share one PostgreSQL database: each needs its own id and the URL at which agents
    # and viewers reach *this* node directly (the agent's data channel goes straight to it).
    node_id: str = ""  # empty: the host name
    public_url: str = ""  # empty: https://<host>:<port>
    drain_seconds: int = 30  # on SIGTERM: how long live sessions may continue before they are ended
    resume_grace_seconds: int = 60  # a session whose link broke waits this long to be resumed
    # Operations (docs/deployment.md): who may scrape /metrics (empty: any), and the optional log file.
    metrics_networks: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    log_file: str = ""  # empty: standard error only (journald under systemd)
    log_max_bytes: int = 10 * 1024 * 1024  # the file is rotated at this size
    log_backups: int = 10  # rotated files kept

    @property
    def effective_node_id(self) -> str:
        return self.node_id or socket.gethostname()[:64]

    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"https://{self.host}:{self.port}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'jiseki.db'}"


def program_data() -> Path:
    """Windows' ProgramData folder as the shell knows it (SHGetKnownFolderPath, FOLDERID_ProgramData):
    the service, `jiseki agent enroll` and the uninstaller must agree, and %ProgramData% is not always
    the same in each (Wine gives services C:\\users\\Public)."""
    import ctypes
    import uuid

    folder_id = (ctypes.c_byte * 16).from_buffer_copy(uuid.UUID("62AB5D82-FDC1-4DC3-A9DD-070D1D495D97").bytes_le)
    found = ctypes.c_wchar_p()
    try:
        shell32 = ctypes.WinDLL("shell32")  # type: ignore[attr-defined,unused-ignore]
        if shell32.SHGetKnownFolderPath(ctypes.byref(folder_id), 0, None, ctypes.byref(found)) == 0 and found.value:
            path = Path(found.value)
            ctypes.WinDLL("ole32").CoTaskMemFree(found)  # type: ignore[attr-defined,unused-ignore]
            return path
    except (AttributeError, OSError):
        pass
    return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))


def default_agent_cert_dir() -> Path:
    """Where `jiseki agent enroll` keeps the PC's key: %ProgramData%\\jiseki\\agent on Windows,
    /var/lib/jiseki-agent elsewhere."""
    if os.name == "nt":
        return program_data() / "jiseki" / "agent"
    return Path("/var/lib/jiseki-agent")


@dataclass(frozen=True)
class AgentConfig:
    gateway_url: str = "https://127.0.0.1:8443"
    cert_dir: Path = field(default_factory=default_agent_cert_dir)
    display: str = ""  # empty: $DISPLAY
    max_fps: int = 30
    jpeg_quality: int = 80
    max_unacked: int = 2
    lock_command: tuple[str, ...] = ()  # empty: the first desktop locker found (loginctl, xdg-screensaver, ...)
    proxy_url: str = ""  # http://proxy:8080 that allows CONNECT to the gateway; empty: direct


@dataclass(frozen=True)
class AuthConfig:
    password_min_length: int = 12
    password_min_classes: int = 3  # of: lower case, upper case, digits, symbols
    lockout_threshold: int = 5  # failed logins in a row before the account locks
    lockout_seconds: int = 900
    address_max_failures: int = 30  # failed logins from one address within the window
    address_window_seconds: int = 600
    session_idle_seconds: int = 1800
    session_max_seconds: int = 12 * 3600
    ticket_seconds: int = 15  # a viewer's session ticket must be used within this time


@dataclass(frozen=True)
class AuditConfig:
    syslog_url: str = ""  # udp://host:514, tcp://host:514 or tls://host:6514; empty: no forwarding
    syslog_ca_file: str = ""  # CA that signed the syslog server's certificate (tls://)
    retention_days: int = 0  # 0: keep the audit trail forever
    recordings_dir: str = ""  # empty: <gateway.data_dir>/recordings
    recording_retention_days: int = 90


@dataclass(frozen=True)
class Config:
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    directory: DirectoryConfig = field(default_factory=DirectoryConfig)
    mail: MailConfig = field(default_factory=MailConfig)


def _path(key: str, value: Any) -> Path:
    return Path(_str(key, value, allow_empty=False)).expanduser()


def check_host(key: str, value: Any) -> str:
    """An IP address or a host name (one a certificate can carry), or ConfigError naming `key`."""
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
    return tuple(check_host(f"{key}[{i}]", item) for i, item in enumerate(value))


def _https_url(key: str, value: Any) -> str:
    text = _str(key, value, allow_empty=False)
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{key}: must be an https:// URL, got {text!r}")
    return text.rstrip("/")


def proxy_url_problem(text: str) -> str | None:
    """Why `text` is not a proxy the agent can use (None: it is). An HTTP proxy that allows CONNECT to
    the gateway: TLS with the PC's certificate runs end to end through it. No credentials in the URL:
    the configuration and the registry are no place for a password."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme != "http" or not parts.hostname or port is None:
        return "must look like http://proxy.example:8080"
    if parts.username or parts.password:
        return "must not hold a user name or password"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must be http://host:port only"
    return None


def _proxy_url(key: str, value: Any) -> str:
    text = _str(key, value)
    problem = proxy_url_problem(text) if text else None
    if problem:
        raise ConfigError(f"{key}: {problem}, got {text!r}")
    return text.rstrip("/")


def _node_id(key: str, value: Any) -> str:
    text = _str(key, value)
    if text and not (len(text) <= 64 and all(c.isalnum() or c in "._-" for c in text)):
        raise ConfigError(f"{key}: use letters, digits, '.', '_' and '-' (at most 64), got {text!r}")
    return text


def _networks(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f'{key}: must be a list of networks such as "10.20.0.0/16", got {value!r}')
    result = []
    for i, item in enumerate(value):
        try:
            result.append(str(ipaddress.ip_network(_str(f"{key}[{i}]", item, allow_empty=False), strict=False)))
        except ValueError:
            raise ConfigError(f'{key}[{i}]: {item!r} is not a network (CIDR) such as "10.20.0.0/16"') from None
    return tuple(result)


def _command(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f'{key}: must be a command as a list of strings, e.g. ["xdg-screensaver", "lock"]')
    return tuple(value)


def _db_url(key: str, value: Any) -> str:
    text = _str(key, value)
    if text and not text.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql+psycopg://")):
        raise ConfigError(f"{key}: must start with sqlite+aiosqlite://, postgresql+asyncpg:// or postgresql+psycopg://")
    options = parse_qs(urlsplit(text).query, keep_blank_values=True)
    if text.startswith("postgresql") and any(name.lower().startswith("ssl") for name in options):
        # asyncpg's engine would take ?ssl=, but the signalling's DSN and pg_dump spell TLS otherwise
        raise ConfigError(
            f"{key}: set TLS to PostgreSQL in the environment (PGSSLMODE, PGSSLROOTCERT), not in the URL: "
            "the gateway, its signalling and jiseki backup all read it there (docs/deployment.md)"
        )
    return text


_GATEWAY_KEYS = {
    "host": lambda k, v: check_host(k, v),
    "port": lambda k, v: _int(k, v, 1, 65535),
    "data_dir": _path,
    "server_names": _names,
    "database_url": _db_url,
    "database_pool_size": lambda k, v: _int(k, v, 1, 200),
    "database_max_overflow": lambda k, v: _int(k, v, 0, 200),
    "staff_networks": _networks,
    "agent_networks": _networks,
    "ca_passphrase": lambda k, v: _str(k, v),
    "terminal_cert_days": lambda k, v: _int(k, v, 1, 3650),
    "node_id": lambda k, v: _node_id(k, v),
    "public_url": lambda k, v: _https_url(k, v) if v else "",
    "drain_seconds": lambda k, v: _int(k, v, 0, 3600),
    "resume_grace_seconds": lambda k, v: _int(k, v, 0, 3600),
    "agent_cert_days": lambda k, v: _int(k, v, 1, 3650),
    "metrics_networks": _networks,
    "log_file": lambda k, v: _str(k, v),
    "log_max_bytes": lambda k, v: _int(k, v, 64 * 1024, 1 << 40),
    "log_backups": lambda k, v: _int(k, v, 1, 1000),
}
_AGENT_KEYS = {
    "gateway_url": _https_url,
    "cert_dir": _path,
    "display": lambda k, v: _str(k, v),
    "max_fps": lambda k, v: _int(k, v, 1, 120),
    "jpeg_quality": lambda k, v: _int(k, v, 10, 100),
    "max_unacked": lambda k, v: _int(k, v, 1, 16),
    "lock_command": lambda k, v: _command(k, v),
    "proxy_url": _proxy_url,
}


def _syslog_url(key: str, value: Any) -> str:
    text = _str(key, value)
    if text:
        parts = urlsplit(text)
        if parts.scheme not in ("udp", "tcp", "tls") or not parts.hostname:
            raise ConfigError(f"{key}: must look like udp://host:514, tcp://host:514 or tls://host:6514, got {text!r}")
    return text


_AUDIT_KEYS = {
    "syslog_url": _syslog_url,
    "syslog_ca_file": lambda k, v: _str(k, v),
    "retention_days": lambda k, v: _int(k, v, 0, 36500),
    "recordings_dir": lambda k, v: _str(k, v),
    "recording_retention_days": lambda k, v: _int(k, v, 0, 36500),
}
_AUTH_KEYS = {
    "password_min_length": lambda k, v: _int(k, v, 8, 128),
    "password_min_classes": lambda k, v: _int(k, v, 1, 4),
    "lockout_threshold": lambda k, v: _int(k, v, 1, 100),
    "lockout_seconds": lambda k, v: _int(k, v, 1, 7 * 86400),
    "address_max_failures": lambda k, v: _int(k, v, 1, 100000),
    "address_window_seconds": lambda k, v: _int(k, v, 1, 86400),
    "session_idle_seconds": lambda k, v: _int(k, v, 60, 86400),
    "session_max_seconds": lambda k, v: _int(k, v, 300, 7 * 86400),
    "ticket_seconds": lambda k, v: _int(k, v, 2, 120),
}


def _section(name: str, raw: Any, validators: dict[str, Any], cls: type) -> Any:
    return cls() if raw is None else cls(**check_table(name, raw, validators))


def parse_config(raw: dict[str, Any]) -> Config:
    for key in raw:
        if key not in ("gateway", "agent", "auth", "audit", "directory", "mail"):
            raise ConfigError(f"{key}: unknown section (known: agent, audit, auth, directory, gateway, mail)")
    config = Config(
        gateway=_section("gateway", raw.get("gateway"), _GATEWAY_KEYS, GatewayConfig),
        agent=_section("agent", raw.get("agent"), _AGENT_KEYS, AgentConfig),
        auth=_section("auth", raw.get("auth"), _AUTH_KEYS, AuthConfig),
        audit=_section("audit", raw.get("audit"), _AUDIT_KEYS, AuditConfig),
        directory=parse_directory(raw.get("directory")),
        mail=parse_mail(raw.get("mail")),
    )
    passphrase = os.environ.get("JISEKI_CA_PASSPHRASE")
    if passphrase:
        config = replace(config, gateway=replace(config.gateway, ca_passphrase=passphrase))
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
