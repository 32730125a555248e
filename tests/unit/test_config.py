"""Configuration loading: defaults, validation and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiseki.cli import main
from jiseki.config import ConfigError, load_config, parse_config


def test_defaults() -> None:
    config = parse_config({})
    assert config.gateway.port == 8443
    assert config.agent.max_unacked == 2
    assert config.gateway.effective_database_url.startswith("sqlite+aiosqlite:///")


def test_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "j.toml"
    path.write_text(
        '[gateway]\nport = 9000\nserver_names = ["gw.example.lg.jp", "10.0.0.5"]\n'
        '[agent]\ngateway_url = "https://gw.example.lg.jp:9000/"\nmax_fps = 20\n',
        "utf-8",
    )
    config = load_config(path)
    assert config.gateway.port == 9000
    assert config.gateway.server_names == ("gw.example.lg.jp", "10.0.0.5")
    assert config.agent.gateway_url == "https://gw.example.lg.jp:9000"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"gateway": {"port": "abc"}}, "gateway.port: must be an integer from 1 to 65535, got 'abc'"),
        ({"gateway": {"port": 70000}}, "gateway.port: must be an integer from 1 to 65535, got 70000"),
        ({"gateway": {"port": True}}, "gateway.port:"),
        ({"gateway": {"colour": 1}}, "gateway.colour: unknown setting"),
        ({"gatway": {}}, "gatway: unknown section"),
        ({"auth": {"password_min_length": 4}}, "auth.password_min_length: must be an integer from 8 to 128"),
        ({"agent": {"gateway_url": "http://x"}}, "agent.gateway_url: must be an https:// URL"),
        ({"agent": {"jpeg_quality": 5}}, "agent.jpeg_quality: must be an integer from 10 to 100"),
        ({"gateway": {"server_names": []}}, "gateway.server_names: must be a non-empty list"),
        ({"gateway": {"server_names": ["bad name!"]}}, "gateway.server_names[0]:"),
        ({"gateway": {"database_url": "mysql://x"}}, "gateway.database_url: must start with"),
        (
            {"gateway": {"database_url": "postgresql+asyncpg://j:SECRET@db/j?ssl=verify-full"}},
            "gateway.database_url: set TLS to PostgreSQL in the environment (PGSSLMODE, PGSSLROOTCERT)",
        ),
        ({"gateway": {"database_url": "postgresql+psycopg://j@db/j?sslmode=require"}}, "gateway.database_url: set TLS"),
        ({"gateway": {"database_url": "postgresql+asyncpg://j@db/j?ssl="}}, "gateway.database_url: set TLS"),
        ({"gateway": "x"}, "gateway: must be a table"),
    ],
)
def test_bad_values_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\nport=1", "utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_cli_prints_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.toml"
    path.write_text("[gateway]\nport = 0\n", "utf-8")
    assert main(["gateway", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "jiseki: configuration error: gateway.port: must be an integer from 1 to 65535, got 0"


def test_ca_passphrase_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JISEKI_CA_PASSPHRASE", "from-env-0123456789")
    assert parse_config({}).gateway.ca_passphrase == "from-env-0123456789"


def test_networks() -> None:
    config = parse_config({"gateway": {"staff_networks": ["10.20.0.0/16", "192.168.1.7"]}})
    assert config.gateway.staff_networks == ("10.20.0.0/16", "192.168.1.7/32")
    with pytest.raises(ConfigError, match=r"gateway.agent_networks\[0\]: 'x' is not a network"):
        parse_config({"gateway": {"agent_networks": ["x"]}})
    with pytest.raises(ConfigError, match=r"auth\.lockout_threshold: must be an integer from 1 to 100"):
        parse_config({"auth": {"lockout_threshold": 0}})


def test_tls_options_in_the_database_url_are_refused_without_echoing_the_password() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"gateway": {"database_url": "postgresql+asyncpg://jiseki:SECRET@db/jiseki?sslrootcert=/x"}})
    assert "SECRET" not in str(err.value) and "PGSSLROOTCERT" in str(err.value)
    url = "postgresql+asyncpg://jiseki@db/jiseki?prepared_statement_cache_size=0"  # other options stay allowed
    assert parse_config({"gateway": {"database_url": url}}).gateway.database_url == url
