"""Every administrative write is audited, and the CLI and the console write the same event for the
same change (one operation in `jiseki.gateway.admin` behind both). The CLI runs in-process against
the running test gateway's database (SQLite, or PostgreSQL with JISEKI_TEST_DB=postgresql)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select, update

from jiseki.cli import build_parser, main
from jiseki.gateway.db.models import AuditEvent, PolicyRow, User
from jiseki.policy_settings import SETTINGS, Setting

from .conftest import RunningGateway
from .console_support import add_console_users, database, events, logged_in, post

pytestmark = pytest.mark.database  # its subject is what the database does: run on PostgreSQL too

# Commands that change no administrative data (they run, read or export; `db upgrade` changes the
# schema only). Every other command of the CLI is an administrative write and must be audited.
NOT_WRITES = {
    "gateway",
    "db upgrade",
    "db current",
    "db downgrade",  # the schema, like db upgrade
    "restore",  # into a new data directory, never the live one; its audit trail must verify as it was
    "policy show",
    "audit verify",
    "audit export",
    "report usage",
    "agent",
    "agent enroll",
    "agent selftest",
    "agent service",  # runs on the office PC: no gateway data
    "agent worker",
    "agent package",  # builds an MSI file
    "demo",
    "directory test",  # reads the directory
    "directory sync",  # a write, but needs a directory: its audit event is checked in test_directory_sync.py
}


def commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[str]:
    """Every command of the CLI, e.g. "admin create-user" (a group whose subcommand is optional, such
    as `agent`, counts as a command too)."""
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= commands(sub, (*prefix, name))
            if not action.required:
                found.add(" ".join(prefix))
            return found
    return {" ".join(prefix)}


def cli_config(gw: RunningGateway) -> Path:
    gc = gw.config.gateway
    path = gw.root / "cli.toml"
    path.write_text(f'[gateway]\ndata_dir = "{gc.data_dir}"\ndatabase_url = "{gc.database_url}"\n', "utf-8")
    return path


async def jiseki(gw: RunningGateway, *argv: str) -> tuple[int, str]:
    """Run `jiseki ARGV` in a thread (it runs its own event loop); (exit status, output)."""
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            return main([*argv, "--config", str(cli_config(gw))])

    status = await asyncio.to_thread(run)
    return status, out.getvalue()


def csr(terminal_id: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, terminal_id)])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def write_invocations(tmp: Path) -> dict[str, list[str]]:
    """One invocation of every write command, in an order in which each one succeeds."""
    (tmp / "users.csv").write_text("login_id,display_name,department,role\nk0100,新井 一郎,総務課,staff\n", "utf-8")
    (tmp / "assign.csv").write_text("login_id,host_id\nk0100,pc-1\n", "utf-8")
    (tmp / "t.csr").write_bytes(csr("T-0200"))
    return {
        "admin create-user": ["admin", "create-user", "k0001", "--name", "山田 太郎", "--temporary-password"],
        "admin import-users": ["admin", "import-users", str(tmp / "users.csv"), "--passwords-out", str(tmp / "p.csv")],
        "admin disable": ["admin", "disable", "k0001"],
        "admin enable": ["admin", "enable", "k0001"],
        "admin unlock": ["admin", "unlock", "k0001"],
        "admin reset-totp": ["admin", "reset-totp", "k0001"],
        "admin assign": ["admin", "assign", "k0001", "pc-1"],
        "admin import-assignments": ["admin", "import-assignments", str(tmp / "assign.csv")],
        "admin update-user": ["admin", "update-user", "k0001", "--name", "山田 花子", "--role", "helpdesk"],
        "admin reset-password": ["admin", "reset-password", "k0001"],
        "admin refuse-local-password": ["admin", "refuse-local-password", "k0100"],  # made a directory account below
        "admin allow-local-password": ["admin", "allow-local-password", "k0100"],
        "terminal add": ["terminal", "add", "T-0100", "--out", str(tmp / "t.p12")],
        "terminal sign": ["terminal", "sign", "T-0200", "--csr", str(tmp / "t.csr"), "--out", str(tmp / "t.pem")],
        "terminal revoke": ["terminal", "revoke", "T-0100"],
        "host add": ["host", "add", "pc-0100", "--out", str(tmp / "agent")],
        "host token": ["host", "token", "pc-0200"],
        "host revoke": ["host", "revoke", "pc-0100"],
        "host group": ["host", "group", "pc-1", "本庁舎"],
        "admin scope": ["admin", "scope", "k0001", "--host-group", "本庁舎", "--department", "総務課"],
        "policy set": ["policy", "set", "--department", "総務課", "--idle-minutes", "30"],
        "audit purge": ["audit", "purge", "--before", "2000-01-01"],
        "backup": ["backup", str(tmp / "b.jsk"), "--passphrase-file", str(_passphrase(tmp))],
    }


def _passphrase(tmp: Path) -> Path:
    path = tmp / "backup-passphrase"
    path.write_text("admin-writes-backup-passphrase\n", "utf-8")
    return path


async def cli_events(gw: RunningGateway) -> int:
    async with database(gw) as s:
        return int((await s.execute(select(func.count()).where(AuditEvent.actor == "cli"))).scalar_one())


async def test_every_write_command_of_the_cli_writes_an_audit_event(gateway: RunningGateway) -> None:
    invocations = write_invocations(gateway.root)
    # A new command must be classified: a write (with an invocation here) or not.
    assert commands(build_parser()) == NOT_WRITES | set(invocations)
    for command, argv in invocations.items():
        if command == "admin refuse-local-password":
            async with database(gateway) as s:
                await s.execute(update(User).where(User.id == "k0100").values(source="directory"))
        before = await cli_events(gateway)
        status, output = await jiseki(gateway, *argv)
        assert status == 0, (command, output)
        assert await cli_events(gateway) > before, f"`jiseki {command}` wrote no audit event"


def _console_fields(s: Setting, value: Any) -> dict[str, str]:
    """The console form's fields that give setting `s` the stored `value`."""
    form = s.kind.form
    if form == "switch":
        return {s.name: "yes" if value else "no"}
    if form == "days":
        return {f"{s.name}_set": "on", **{f"day_{d}": "on" for d in value.split(",")}}
    if form == "window":
        return dict(zip(s.columns, value, strict=True))
    return {s.name: str(value)}


def _cli_flags(s: Setting, value: Any) -> list[str]:
    form = s.kind.form
    text = ("yes" if value else "no") if form == "switch" else "-".join(value) if form == "window" else str(value)
    return [s.flag, text]


def _changed(s: Setting) -> Any:
    """A value for `s` that is not its default (so that every setting appears in the event)."""
    form = s.kind.form
    if form == "choice":
        return s.kind.choices[-1] if s.kind.choices[-1] != s.default else s.kind.choices[0]  # type: ignore[attr-defined]
    return {"number": 15, "switch": not s.default, "days": "mon,tue", "window": ("08:00", "20:00")}[form]


def _details(event: AuditEvent) -> dict[str, Any]:
    return json.loads(event.details or "{}")


async def test_the_cli_and_the_console_write_the_same_policy_event(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    change = {s: _changed(s) for s in SETTINGS}
    form = {k: v for s, value in change.items() for k, v in _console_fields(s, value).items()}
    async with await logged_in(gateway, "root") as b:
        status, _body, _location = await post(b, "/admin/policies", {"scope": "host_group", "name": "窓口", **form})
        assert status == 303
    flags = [flag for s, value in change.items() for flag in _cli_flags(s, value)]
    status, output = await jiseki(gateway, "policy", "set", "--host-group", "受付", *flags)
    assert status == 0, output
    console, cli = await events(gateway, "policy_changed")
    assert (console.actor, console.subject) == ("root", "host_group:窓口")
    assert (cli.actor, cli.subject) == ("cli", "host_group:受付")
    assert console.outcome == cli.outcome == "ok"
    assert _details(console) == _details(cli)
    # every setting was written, by both
    columns = {c for s in SETTINGS for c in s.columns}
    assert set(_details(cli)["after"]) == columns
    async with database(gateway) as s:
        rows = (await s.execute(select(PolicyRow).order_by(PolicyRow.id))).scalars().all()
        assert [[getattr(r, c) for c in sorted(columns)] for r in rows] == [
            [getattr(rows[0], c) for c in sorted(columns)]
        ] * 2


async def test_the_cli_and_the_console_write_the_same_host_group_event(gateway: RunningGateway) -> None:
    await add_console_users(gateway)
    async with await logged_in(gateway, "root") as b:
        status, _body, _location = await post(b, "/admin/policies/group", {"pc": "pc-1", "group": "本庁舎"})
        assert status == 303
        status, _body, _location = await post(b, "/admin/policies/group", {"pc": "no-such-pc", "group": "本庁舎"})
        assert status == 404
    status, output = await jiseki(gateway, "host", "group", "pc-2", "本庁舎")
    assert status == 0, output
    status, output = await jiseki(gateway, "host", "group", "no-such-pc", "本庁舎")
    assert status == 1 and "no-such-pc" in output
    console, cli = await events(gateway, "host_group_changed")
    assert (console.actor, console.subject, cli.actor, cli.subject) == ("root", "pc-1", "cli", "pc-2")
    assert _details(console) == _details(cli) == {"before": {"host_group": None}, "after": {"host_group": "本庁舎"}}
    # out of the group again: the event names the group it left
    status, output = await jiseki(gateway, "host", "group", "pc-2")
    assert status == 0, output
    left = (await events(gateway, "host_group_changed"))[-1]
    assert _details(left) == {"before": {"host_group": "本庁舎"}, "after": {"host_group": None}}
