"""The CLI package's seams: the parser assembled from the command groups, what each command opens
(`jiseki.cli.context`), and the agent's commands loading nothing of the gateway."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jiseki.cli import admin as cli_admin
from jiseki.cli import build_parser, main
from jiseki.cli.context import Context
from jiseki.config import ConfigError
from jiseki.gateway.auth.accounts import ROLES

ROOT = Path(__file__).resolve().parents[2]


def parsers(parser: argparse.ArgumentParser, path: str = "jiseki") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def test_every_group_and_command_takes_the_global_options() -> None:
    found = dict(parsers(build_parser()))
    assert len(found) > 30  # the walk went down to the commands
    missing = [path for path, p in found.items() if not {"--config", "-v"} <= set(p._option_string_actions)]
    assert missing == []


def test_the_roles_offered_are_the_gateways() -> None:
    assert cli_admin.ROLES == ROLES


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "jiseki.toml"
    path.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n', "utf-8")
    return path


def test_commands_open_the_ca_only_to_issue_and_the_secret_box_only_to_prepare_a_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, data = str(config_file(tmp_path)), tmp_path / "data"
    assert main(["admin", "create-user", "k0001", "--name", "山田", "--temporary-password", "--config", config]) == 0
    assert main(["admin", "unlock", "k0001", "--config", config]) == 0
    assert main(["audit", "verify", "--config", config]) == 0
    assert (data / "jiseki.db").is_file() and (data / "audit" / "head.json").is_file()
    assert not (data / "pki").exists() and not (data / "secrets").exists()

    assert main(["host", "token", "pc-0001", "--config", config]) == 0
    assert "jsk1." in capsys.readouterr().out
    assert (data / "pki" / "root-ca.crt").is_file()
    assert not (data / "pki" / "server.crt").exists()  # the node's own certificate: not needed to issue
    assert not (data / "secrets").exists()

    # `db upgrade` prepares the data directory to copy to the other nodes (docs/deployment.md)
    assert main(["db", "upgrade", "--config", config]) == 0
    assert (data / "pki" / "server.crt").is_file() and (data / "secrets" / "totp.key").is_file()


def test_a_command_that_opens_the_database_leaves_it_closed(tmp_path: Path) -> None:
    ctx = Context(config_file(tmp_path))

    async def twice(ctx: Context) -> bool:
        return await ctx.db() is await ctx.db()

    assert ctx.run(twice) is True  # one engine, migrated once
    assert ctx._engine is None and ctx._db is None
    assert ctx.run(Context.db) is not None  # usable again after close


def test_the_configuration_is_read_on_first_use(tmp_path: Path) -> None:
    ctx = Context(tmp_path / "missing.toml")

    async def nothing(ctx: Context) -> str:
        return "ran"

    assert ctx.run(nothing) == "ran"  # nothing read yet: what needs no configuration runs
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        _ = ctx.config


def loaded_after(code: str, tmp_path: Path) -> dict[str, object]:
    """Run `code` (which sets `status`) in a fresh interpreter on this tree; the status and the modules loaded."""
    script = (
        "import json, sys\n"
        "from jiseki.cli import main\n"
        f"{code}\n"
        "print(json.dumps({'status': status, 'modules': sorted(sys.modules)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY" and not k.startswith("JISEKI_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return seen


def _of(modules: object, *prefixes: str) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


def test_the_agent_commands_load_nothing_of_the_gateway(tmp_path: Path) -> None:
    """`jiseki agent enroll` and `jiseki agent` through the whole parser and their handlers (the
    enrollment fails on a damaged token, the agent on a missing display: both after their imports)."""
    seen = loaded_after(
        "import jiseki.cli.agent\n"
        "status = [main(['agent', 'enroll', 'https://127.0.0.1:1', '--token', 'jsk1.x.y', '--cert-dir', 'certs']),"
        " main(['agent'])]",
        tmp_path,
    )
    assert seen["status"] == [1, 2]
    assert _of(seen["modules"], "jiseki.agent.enroll", "jiseki.agent.runner")  # the handlers did run
    assert _of(seen["modules"], "jiseki.gateway", "sqlalchemy", "alembic") == []


def test_the_selftest_loads_nothing_of_the_gateway(tmp_path: Path) -> None:
    """`jiseki agent selftest --help`, and a run of its handler down to a check's result: the desk
    checks skipped (no X server here), the gateway's failing for want of a certificate."""
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\ndisplay = ":99"\ncert_dir = "{tmp_path / "none"}"\n', "utf-8")
    desk = ", ".join(f"'--skip', '{name}'" for name in ("capture", "picture", "input", "clipboard", "curtain"))
    seen = loaded_after(
        "try:\n"
        "    main(['agent', 'selftest', '--help'])\n"
        "except SystemExit as stop:\n"
        "    shown = stop.code\n"
        f"status = [shown, main(['agent', 'selftest', {desk}, '--config', {str(config)!r}])]",
        tmp_path,
    )
    assert seen["status"] == [0, 1]
    assert _of(seen["modules"], "jiseki.agent.selftest.run", "jiseki.agent.selftest.gateway_check")
    assert _of(seen["modules"], "jiseki.gateway", "sqlalchemy", "alembic") == []


def test_reading_one_row_opens_the_database_only(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    seen = loaded_after(f"status = main(['policy', 'show', 'k0001', 'pc-0001', '--config', {str(config)!r}])", tmp_path)
    assert seen["status"] == 0
    assert _of(seen["modules"], "jiseki.gateway.policies_db")
    # no broker, signaling, node registry, CA, HTTP server or client: what the gateway's state would open
    unopened = ["jiseki.gateway." + m for m in ("state", "broker", "signaling", "nodes", "pki", "certs", "server")]
    assert _of(seen["modules"], *unopened, "aiohttp") == []


def test_a_ca_error_is_one_line_and_only_for_commands_that_use_the_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JISEKI_CA_PASSPHRASE", raising=False)
    data = tmp_path / "data"
    with_passphrase = tmp_path / "with.toml"
    with_passphrase.write_text(f'[gateway]\ndata_dir = "{data}"\nca_passphrase = "s3cret-pass"\n', "utf-8")
    assert main(["host", "token", "pc-0001", "--config", str(with_passphrase)]) == 0  # an encrypted CA
    capsys.readouterr()

    without = str(config_file(tmp_path))
    assert main(["host", "token", "pc-0002", "--config", without]) == 1
    assert capsys.readouterr().err == (
        f"jiseki: {data / 'pki' / 'issuing-ca.key'} is encrypted: set JISEKI_CA_PASSPHRASE (or gateway.ca_passphrase)\n"
    )
    assert main(["admin", "create-user", "k0001", "--name", "山田", "--temporary-password", "--config", without]) == 0
