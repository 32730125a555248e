"""The [directory] section: an AD and an OpenLDAP example load; each mistake is one line naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jiseki.config import ConfigError, load_config, parse_config

AD = """
[directory]
enabled = true
kind = "ad"
servers = ["ldaps://dc1.pref.example.lg.jp", "ldaps://dc2.pref.example.lg.jp:636"]
ca_file = "/etc/jiseki/ad-ca.pem"
bind = "upn"
upn_suffix = "pref.example.lg.jp"
service_dn = "CN=svc-jiseki,OU=Service,DC=pref,DC=example,DC=lg,DC=jp"
base_dns = ["OU=職員,DC=pref,DC=example,DC=lg,DC=jp"]
group_dns = ["CN=jiseki-users,OU=Groups,DC=pref,DC=example,DC=lg,DC=jp"]
reading_attribute = "msDS-PhoneticDisplayName"
sync_interval_minutes = 60
role_groups = { admin = "CN=jiseki-admins,OU=Groups,DC=pref,DC=example,DC=lg,DC=jp" }
"""


def test_an_active_directory_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JISEKI_DIRECTORY_PASSWORD", "from-the-environment")
    path = tmp_path / "jiseki.toml"
    path.write_text(AD, "utf-8")
    d = load_config(path).directory
    assert d.enabled and d.servers == ("ldaps://dc1.pref.example.lg.jp", "ldaps://dc2.pref.example.lg.jp:636")
    assert d.service_password == "from-the-environment"
    assert d.effective_login_attribute == "sAMAccountName"
    assert d.effective_user_filter == "(&(objectCategory=person)(objectClass=user))"
    assert d.role_groups == {"admin": "CN=jiseki-admins,OU=Groups,DC=pref,DC=example,DC=lg,DC=jp"}


def test_plain_ldap_defaults_and_off_by_default() -> None:
    assert not parse_config({}).directory.enabled
    d = parse_config({"directory": {"kind": "ldap"}}).directory
    assert d.effective_login_attribute == "uid" and d.effective_user_filter == "(objectClass=inetOrgPerson)"


_COMPLETE: dict[str, Any] = {
    "enabled": True,
    "servers": ["ldaps://127.0.0.1:6636"],
    "upn_suffix": "x.lg.jp",
    "base_dns": ["ou=staff,dc=x"],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"servers": ["http://dc1"]}, "directory.servers[0]: must look like ldaps://"),
        ({"servers": ["ldap://dc1"]}, "directory.servers: ldap:// sends passwords in the clear"),
        ({"servers": []}, "directory.servers: at least one server"),
        ({"kind": "novell"}, "directory.kind: must be one of ad, ldap"),
        ({"bind": "sam"}, "directory.netbios_domain: needed"),
        ({"bind": "search"}, "directory.service_dn and service_password: needed"),
        ({"base_dns": ["staff"]}, "directory.base_dns[0]: must be a distinguished name"),
        ({"user_filter": "objectClass=user"}, "directory.user_filter: must be an LDAP filter"),
        ({"role_groups": {"root": "cn=x"}}, "directory.role_groups key: must be one of admin, helpdesk, auditor"),
        ({"timeout_seconds": 0}, "directory.timeout_seconds: must be an integer from 1 to 60"),
        ({"login_attribute": "uid)(x"}, "directory.login_attribute: must be an attribute name"),
        ({"colour": "blue"}, "directory.colour: unknown setting"),
    ],
)
def test_each_mistake_names_its_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"directory": {**_COMPLETE, **change}})
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_complete_section_passes_and_start_tls_allows_ldap() -> None:
    assert parse_config({"directory": _COMPLETE}).directory.enabled
    d = parse_config({"directory": {**_COMPLETE, "servers": ["ldap://dc1:389"], "start_tls": True}}).directory
    assert d.start_tls


def test_the_configuration_doc_lists_every_directory_key() -> None:
    import dataclasses

    from jiseki.config import DirectoryConfig

    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text("utf-8")
    section = doc.split("## `[directory]`", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert documented == {f.name for f in dataclasses.fields(DirectoryConfig)}
