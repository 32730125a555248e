"""Global options (`--config`, `-v`) go before or after the subcommand; the one nearer the end wins."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jiseki.cli import build_parser, main

COMMANDS = [
    ["gateway"],
    ["db", "upgrade"],
    ["admin", "create-user", "k0001", "--name", "山田 太郎"],
    ["admin", "unlock", "k0001"],
    ["terminal", "revoke", "T-0001"],
    ["host", "token", "pc-0001"],
    ["policy", "show", "k0001", "pc-0001"],
    ["audit", "verify"],
    ["report", "usage", "--from", "2026-11-01", "--to", "2026-12-01"],
    ["agent"],
    ["agent", "enroll", "https://gw.example", "--token", "t"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_config_before_or_after_the_subcommand(command: list[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["--config", "a.toml", *command]).config == Path("a.toml")
    assert parser.parse_args([*command, "--config", "b.toml"]).config == Path("b.toml")
    assert parser.parse_args(["--config", "a.toml", *command, "--config", "b.toml"]).config == Path("b.toml")
    assert parser.parse_args(command).config is None


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_verbose_before_or_after_the_subcommand(command: list[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["-v", *command]).verbose is True
    assert parser.parse_args([*command, "--verbose"]).verbose is True
    assert parser.parse_args(command).verbose is False


def test_config_between_a_group_and_its_command() -> None:
    args = build_parser().parse_args(["--config", "a.toml", "admin", "--config", "b.toml", "unlock", "k0001"])
    assert args.config == Path("b.toml")


def test_a_command_reads_the_file_given_before_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "jiseki.toml"
    config.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n', "utf-8")
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "newest schema" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "data" / "jiseki.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()


def test_a_bad_file_given_before_the_command_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "jiseki.toml"
    config.write_text("[gateway]\nport = 0\n", "utf-8")
    assert main(["--config", str(config), "admin", "unlock", "k0001"]) == 2
    assert "gateway.port: must be an integer" in capsys.readouterr().err


def test_the_demo_says_it_does_not_read_a_configuration_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "jiseki.toml", "demo"]) == 1
    assert "--config" in capsys.readouterr().err
