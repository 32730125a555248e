"""The [mail] section: validation, the password from the environment, the documentation's table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jiseki.config import ConfigError, parse_config
from jiseki.config_mail import MailConfig

_COMPLETE = {"enabled": True, "host": "smtp.pref.example.lg.jp", "from_address": "jiseki@pref.example.lg.jp"}


def test_defaults_are_off() -> None:
    mail = parse_config({}).mail
    assert mail == MailConfig() and not mail.enabled and mail.security == "starttls"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"enabled": True}, "mail.host: needed"),
        ({"enabled": True, "host": "smtp.example"}, "mail.from_address: needed"),
        ({**_COMPLETE, "security": "none"}, "allowed only to localhost"),
        ({**_COMPLETE, "security": "ssl"}, "mail.security: must be one of starttls, tls, none"),
        ({**_COMPLETE, "username": "jiseki"}, "mail.password: needed"),
        ({"from_address": "not an address"}, "mail.from_address: must be a mail address"),
        ({"public_url": "http://jiseki.example"}, "mail.public_url: must be an https:// URL"),
        ({"unusual_hours": "22-6"}, 'mail.unusual_hours: must look like "22:00-06:00"'),
        ({"port": 0}, "mail.port: must be an integer from 1 to 65535"),
        ({"colour": "red"}, "mail.colour: unknown setting"),
        ({"host": "smtp example"}, "mail.host: must be a host name"),
    ],
)
def test_bad_values_name_their_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"mail": raw})


def test_a_local_relay_may_go_without_tls_and_the_password_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_config({"mail": {**_COMPLETE, "host": "127.0.0.1", "security": "none", "port": 25}}).mail.enabled
    monkeypatch.setenv("JISEKI_MAIL_PASSWORD", "from-env")
    mail = parse_config({"mail": {**_COMPLETE, "username": "jiseki"}}).mail
    assert mail.password == "from-env"


def test_the_configuration_doc_lists_every_mail_key() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text("utf-8")
    section = doc.split("## `[mail]`", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert documented == {f.name for f in dataclasses.fields(MailConfig)}
