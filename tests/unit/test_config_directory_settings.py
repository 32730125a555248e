"""The [directory] section of jiseki.toml: complete settings accepted, every mistake named."""

from __future__ import annotations

import pytest

from jiseki.config_directory import DirectoryConfig, parse_directory
from jiseki.config_values import ConfigError

AD = {
    "enabled": True,
    "kind": "ad",
    "servers": ["ldaps://dc1.pref.example.lg.jp", "ldaps://dc2.pref.example.lg.jp:636/"],
    "bind": "upn",
    "upn_suffix": "pref.example.lg.jp",
    "base_dns": ["OU=職員,DC=pref,DC=example,DC=lg,DC=jp"],
    "role_groups": {"admin": "CN=jiseki-admins,OU=Groups,DC=pref,DC=example,DC=lg,DC=jp"},
}


def test_complete_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JISEKI_DIRECTORY_PASSWORD", raising=False)
    config = parse_directory(AD)
    assert config.servers == ("ldaps://dc1.pref.example.lg.jp", "ldaps://dc2.pref.example.lg.jp:636")
    assert (config.effective_login_attribute, config.effective_user_filter) == (
        "sAMAccountName",
        "(&(objectCategory=person)(objectClass=user))",
    )
    assert parse_directory(None) == DirectoryConfig()
    monkeypatch.setenv("JISEKI_DIRECTORY_PASSWORD", "from-env")
    searching = parse_directory({**AD, "bind": "search", "service_dn": "CN=svc,DC=x"})
    assert searching.service_password == "from-env"
    ldap = parse_directory({**AD, "kind": "ldap", "servers": ["ldap://ldap1:389"], "start_tls": True})
    assert (ldap.effective_login_attribute, ldap.effective_user_filter) == ("uid", "(objectClass=inetOrgPerson)")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"servers": []}, "directory.servers"),
        ({"servers": ["https://dc1"]}, "directory.servers[0]"),
        ({"servers": ["ldap://dc1"]}, "directory.servers"),  # in the clear without start_tls
        ({"upn_suffix": ""}, "directory.upn_suffix"),
        ({"bind": "search"}, "directory.service_dn"),
        ({"base_dns": ["not a dn"]}, "directory.base_dns[0]"),
        ({"user_filter": "objectClass=user"}, "directory.user_filter"),
        ({"login_attribute": "uid)(x"}, "directory.login_attribute"),
        ({"role_groups": {"root": "CN=x"}}, "directory.role_groups"),
        ({"timeout_seconds": 0}, "directory.timeout_seconds"),
        ({"kind": "novell"}, "directory.kind"),
        ({"colour": "blue"}, "directory.colour"),
    ],
)
def test_mistakes_are_named(change: dict[str, object], key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JISEKI_DIRECTORY_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_directory({**AD, **change})
