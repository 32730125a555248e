"""The `[mail]` section of jiseki.toml: alerts sent by mail (SMTP).

Validated like the other sections (`ConfigError` names the key). The SMTP password is best given in
the environment (JISEKI_MAIL_PASSWORD) to keep it out of files. `security = "none"` (no TLS) is
refused unless the server is this machine (a local relay such as Postfix on 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from jiseki.config_values import ConfigError, check_bool, check_int, check_str, check_table

SECURITY = ("starttls", "tls", "none")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class MailConfig:
    enabled: bool = False
    host: str = ""
    port: int = 587
    security: str = "starttls"  # starttls (port 587), tls (port 465) or none (only to localhost)
    username: str = ""  # empty: no SMTP AUTH
    password: str = ""
    from_address: str = ""  # e.g. jiseki@pref.example.lg.jp
    ca_file: str = ""  # CA of the SMTP server's certificate; empty: the system's
    timeout_seconds: int = 10
    public_url: str = ""  # base of the links in mails; empty: gateway.public_url
    unusual_hours: str = "22:00-06:00"  # JST; a session started in this span is alerted
    pc_offline_days: int = 7
    check_interval_minutes: int = 15  # the periodic checks (certificates, PCs, nodes, audit chain)
    link_hours: int = 24  # how long the one-click link in a mail stays usable


MAX_ADDRESS = 254  # RFC 5321's path limit


def valid_address(text: str) -> bool:
    return len(text) <= MAX_ADDRESS and _ADDRESS.match(text) is not None


def _address(key: str, value: Any) -> str:
    text = check_str(key, value)
    if text and not valid_address(text):
        raise ConfigError(f"{key}: must be a mail address such as jiseki@pref.example.lg.jp, got {text!r}")
    return text


def _host(key: str, value: Any) -> str:
    text = check_str(key, value)
    if text and (len(text) > 253 or not all(c.isalnum() or c in ".-:" for c in text)):
        raise ConfigError(f"{key}: must be a host name or address, got {text!r}")
    return text


def _url(key: str, value: Any) -> str:
    text = check_str(key, value)
    if text:
        parts = urlsplit(text)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ConfigError(f"{key}: must be an https:// URL such as https://jiseki.pref.example.lg.jp, got {text!r}")
    return text.rstrip("/")


def parse_hours(text: str) -> tuple[int, int]:
    """'22:00-06:00' -> minutes from midnight (start, end); start == end means never."""
    m = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", text)
    if m is None:
        raise ValueError(text)
    a, b, c, d = (int(g) for g in m.groups())
    return a * 60 + b, c * 60 + d


def _hours(key: str, value: Any) -> str:
    text = check_str(key, value)
    if text:
        try:
            parse_hours(text)
        except ValueError:
            raise ConfigError(f'{key}: must look like "22:00-06:00" (JST), got {text!r}') from None
    return text


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_KEYS: dict[str, Any] = {
    "enabled": check_bool,
    "host": _host,
    "port": lambda k, v: check_int(k, v, 1, 65535),
    "security": lambda k, v: v if v in SECURITY else _bad_choice(k, v),
    "username": lambda k, v: check_str(k, v),
    "password": lambda k, v: check_str(k, v),
    "from_address": _address,
    "ca_file": lambda k, v: check_str(k, v),
    "timeout_seconds": lambda k, v: check_int(k, v, 1, 120),
    "public_url": _url,
    "unusual_hours": _hours,
    "pc_offline_days": lambda k, v: check_int(k, v, 1, 365),
    "check_interval_minutes": lambda k, v: check_int(k, v, 1, 24 * 60),
    "link_hours": lambda k, v: check_int(k, v, 1, 7 * 24),
}


def _bad_choice(key: str, value: Any) -> str:
    raise ConfigError(f"{key}: must be one of {', '.join(SECURITY)}, got {value!r}")


def parse_mail(raw: Any) -> MailConfig:
    config = MailConfig(**check_table("mail", {} if raw is None else raw, _KEYS))
    password = os.environ.get("JISEKI_MAIL_PASSWORD")
    if password:
        config = replace(config, password=password)
    if config.enabled:
        if not config.host:
            raise ConfigError("mail.host: needed when mail.enabled is true")
        if not config.from_address:
            raise ConfigError("mail.from_address: needed when mail.enabled is true")
        if config.security == "none" and not _is_local(config.host):
            raise ConfigError('mail.security: "none" sends mail in the clear; allowed only to localhost')
        if config.username and not config.password:
            raise ConfigError("mail.password: needed with mail.username (or JISEKI_MAIL_PASSWORD)")
    return config
