"""The `[directory]` section of jiseki.toml: staff sign in with their Active Directory or LDAP
account, and the staff list is synchronised from it.

Validated like the other sections (`ConfigError` names the key). The service account's password is
best given in the environment (JISEKI_DIRECTORY_PASSWORD) to keep it out of files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from jiseki.config_values import ConfigError, check_bool, check_int, check_str, check_table

KINDS = ("ad", "ldap")  # Active Directory, or plain LDAP (OpenLDAP and the like)
BIND_MODES = ("upn", "sam", "search")  # bind as login@upn_suffix, as DOMAIN\login, or find the DN first
ROLES = ("admin", "helpdesk", "auditor")  # roles given by group membership; everyone else is staff
LOCAL_PASSWORD = ("allowed", "refused")  # may a directory account still use a password kept here


@dataclass(frozen=True)
class DirectoryConfig:
    enabled: bool = False
    kind: str = "ad"
    # Several for failover, tried in order: ldaps://dc1.example.lg.jp, ldap://dc2.example.lg.jp:389
    servers: tuple[str, ...] = ()
    start_tls: bool = False  # for ldap:// servers: upgrade with StartTLS (refused if it fails)
    ca_file: str = ""  # the organisation's CA for the directory's certificate; empty: the system's
    timeout_seconds: int = 5  # per server, for connecting and for each operation
    bind: str = "upn"
    upn_suffix: str = ""  # bind "upn": login ID + "@" + this (e.g. pref.example.lg.jp)
    netbios_domain: str = ""  # bind "sam": this + "\" + login ID (e.g. PREF)
    service_dn: str = ""  # bind "search" and synchronisation: the read-only service account
    service_password: str = ""
    base_dns: tuple[str, ...] = ()  # where staff entries are searched (several allowed)
    user_filter: str = ""  # empty: by kind, (&(objectCategory=person)(objectClass=user)) or (objectClass=inetOrgPerson)
    group_dns: tuple[str, ...] = ()  # if set, only members of one of these groups (nested too) are staff here
    login_attribute: str = ""  # empty: sAMAccountName (ad) or uid (ldap)
    name_attribute: str = "displayName"
    reading_attribute: str = ""  # e.g. msDS-PhoneticDisplayName; empty: no reading from the directory
    department_attribute: str = "department"  # "ou" takes the entry's first OU in its DN instead
    mail_attribute: str = "mail"  # where alerts about the person's own account go; empty: not taken
    role_groups: dict[str, str] = field(default_factory=dict)  # role -> group DN (nested membership counts)
    sync_interval_minutes: int = 0  # 0: synchronise on demand only
    local_password: str = "refused"  # noqa: S105 - a choice; for directory accounts (break-glass: per account)
    # Bounds a synchronisation: a directory answering more than this is refused, not half applied.
    max_entries: int = 20000

    @property
    def effective_login_attribute(self) -> str:
        return self.login_attribute or ("sAMAccountName" if self.kind == "ad" else "uid")

    @property
    def effective_user_filter(self) -> str:
        if self.user_filter:
            return self.user_filter
        return "(&(objectCategory=person)(objectClass=user))" if self.kind == "ad" else "(objectClass=inetOrgPerson)"


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{key}: must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _ldap_url(key: str, value: Any) -> str:
    text = check_str(key, value, allow_empty=False)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{key}: not a URL, got {text!r}") from None
    if parts.scheme not in ("ldap", "ldaps") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"{key}: must look like ldaps://dc1.example.lg.jp or ldap://host:389, got {text!r}")
    return text.rstrip("/")


def _list(key: str, value: Any, item: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: must be a list, got {value!r}")
    return tuple(item(f"{key}[{i}]", v) for i, v in enumerate(value))


def _dn(key: str, value: Any) -> str:
    text = check_str(key, value, allow_empty=False)
    if "=" not in text or len(text) > 1024:
        raise ConfigError(f"{key}: must be a distinguished name such as OU=Staff,DC=example,DC=lg,DC=jp")
    return text


def _filter(key: str, value: Any) -> str:
    text = check_str(key, value)
    if text and not (text.startswith("(") and text.endswith(")") and text.count("(") == text.count(")")):
        raise ConfigError(f"{key}: must be an LDAP filter in parentheses, got {text!r}")
    return text


def _attribute(key: str, value: Any) -> str:
    text = check_str(key, value)
    if text and not all(c.isalnum() or c in "-;" for c in text):
        raise ConfigError(f"{key}: must be an attribute name such as displayName, got {text!r}")
    return text


def _role_groups(key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f'{key}: must be a table such as {{ admin = "CN=jiseki-admins,OU=Groups,DC=..." }}')
    return {_choice(f"{key} key", role, ROLES): _dn(f"{key}.{role}", dn) for role, dn in value.items()}


_KEYS: dict[str, Any] = {
    "enabled": check_bool,
    "kind": lambda k, v: _choice(k, v, KINDS),
    "servers": lambda k, v: _list(k, v, _ldap_url),
    "start_tls": check_bool,
    "ca_file": lambda k, v: check_str(k, v),
    "timeout_seconds": lambda k, v: check_int(k, v, 1, 60),
    "bind": lambda k, v: _choice(k, v, BIND_MODES),
    "upn_suffix": lambda k, v: check_str(k, v),
    "netbios_domain": lambda k, v: check_str(k, v),
    "service_dn": lambda k, v: _dn(k, v) if v else "",
    "service_password": lambda k, v: check_str(k, v),
    "base_dns": lambda k, v: _list(k, v, _dn),
    "user_filter": _filter,
    "group_dns": lambda k, v: _list(k, v, _dn),
    "login_attribute": _attribute,
    "name_attribute": _attribute,
    "reading_attribute": _attribute,
    "department_attribute": _attribute,
    "mail_attribute": _attribute,
    "role_groups": _role_groups,
    "sync_interval_minutes": lambda k, v: check_int(k, v, 0, 7 * 24 * 60),
    "local_password": lambda k, v: _choice(k, v, LOCAL_PASSWORD),
    "max_entries": lambda k, v: check_int(k, v, 1, 1_000_000),
}


def parse_directory(raw: Any) -> DirectoryConfig:
    if raw is None:
        return DirectoryConfig()
    config = DirectoryConfig(**check_table("directory", raw, _KEYS))
    password = os.environ.get("JISEKI_DIRECTORY_PASSWORD")
    if password:
        config = replace(config, service_password=password)
    if config.enabled:
        _check_complete(config)
    return config


def _check_complete(c: DirectoryConfig) -> None:
    """What an enabled directory needs, said before the gateway starts rather than at the first login."""
    if not c.servers:
        raise ConfigError("directory.servers: at least one server is needed when directory.enabled is true")
    if c.bind == "upn" and not c.upn_suffix:
        raise ConfigError('directory.upn_suffix: needed for bind = "upn" (e.g. "pref.example.lg.jp")')
    if c.bind == "sam" and not c.netbios_domain:
        raise ConfigError('directory.netbios_domain: needed for bind = "sam" (e.g. "PREF")')
    if (c.bind == "search" or c.sync_interval_minutes) and not (c.service_dn and c.service_password):
        raise ConfigError("directory.service_dn and service_password: needed to search the directory")
    if not c.base_dns:
        raise ConfigError("directory.base_dns: at least one search base is needed")
    if any(url.startswith("ldap://") for url in c.servers) and not c.start_tls:
        raise ConfigError("directory.servers: ldap:// sends passwords in the clear; use ldaps:// or start_tls = true")
