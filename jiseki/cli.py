"""The `jiseki` command: gateway, agent, demo, and the administrators' commands."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError, load_config

if TYPE_CHECKING:
    from .gateway.state import GatewayState


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


class CommandError(Exception):
    """Printed as one line, exit status 1."""


def _with_state(args: argparse.Namespace, action: Callable[[GatewayState], Awaitable[Any]]) -> Any:
    from .gateway.state import open_state

    config = load_config(args.config)

    async def run() -> Any:
        state = await open_state(config)
        try:
            return await action(state)
        finally:
            await state.engine.dispose()

    return asyncio.run(run())


def _write_private(path: Path, data: bytes) -> None:
    from .gateway.pki import write_private

    write_private(path, data)


# ---- gateway and database -------------------------------------------------------------------


def _cmd_gateway(args: argparse.Namespace) -> int:
    from .gateway.server import serve

    asyncio.run(serve(load_config(args.config)))
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    _with_state(args, lambda state: asyncio.sleep(0))  # opening the state runs the migrations
    print("database is at the newest schema")
    return 0


# ---- staff accounts -----------------------------------------------------------------------------


def _read_new_password(args: argparse.Namespace) -> str | None:
    if args.temporary_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat: "):
        raise CommandError("the two passwords differ")
    return first


def _cmd_create_user(args: argparse.Namespace) -> int:
    from .gateway.admin import create_user

    password = _read_new_password(args)

    async def action(state: GatewayState) -> str | None:
        async with state.db.begin() as s:
            return await create_user(
                s, state.password_policy, args.login_id, args.name, args.department or "", args.role, password, "cli"
            )

    temporary = _with_state(args, action)
    print(f"created {args.login_id} ({args.role})")
    if temporary:
        print(f"temporary password (must be changed at first login): {temporary}")
    return 0


def _cmd_import_users(args: argparse.Namespace) -> int:
    from .gateway.admin import import_users
    from .gateway.auth.users_csv import decode_csv, initial_passwords_csv, parse_staff_csv

    try:
        text = decode_csv(args.csv.read_bytes())
    except OSError as exc:
        raise CommandError(f"cannot read {args.csv}: {exc.strerror}") from None
    except ValueError as exc:
        raise CommandError(f"{args.csv}: {exc}") from None
    rows, errors = parse_staff_csv(text)

    async def action(state: GatewayState) -> Any:
        async with state.db.begin() as s:
            return await import_users(s, rows, errors, "cli")

    result = _with_state(args, action)
    if result.created:
        _write_private(args.passwords_out, initial_passwords_csv(result.created).encode())
    print(f"created {len(result.created)} account(s); temporary passwords in {args.passwords_out} (mode 0600)")
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    return 1 if result.errors else 0


def _simple_user_action(name: str) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from .gateway import admin

        async def action(state: GatewayState) -> None:
            async with state.db.begin() as s:
                if name == "unlock":
                    await admin.unlock_user(s, args.login_id, "cli")
                elif name == "reset-totp":
                    await admin.reset_totp(s, args.login_id, "cli")
                else:
                    await admin.set_disabled(s, args.login_id, name == "disable", "cli")

        _with_state(args, action)
        print(f"{name}: {args.login_id} done")
        return 0

    return command


def _cmd_assign(args: argparse.Namespace) -> int:
    from .gateway import admin

    async def action(state: GatewayState) -> bool:
        async with state.db.begin() as s:
            if args.remove:
                return await admin.unassign(s, args.login_id, args.host_id, "cli")
            return await admin.assign(s, args.login_id, args.host_id, "cli")

    changed = _with_state(args, action)
    if args.remove:
        print(f"{args.login_id} → {args.host_id}: {'removed' if changed else 'was not assigned'}")
    else:
        print(f"{args.login_id} → {args.host_id}: {'assigned' if changed else 'was already assigned'}")
    return 0


def _cmd_import_assignments(args: argparse.Namespace) -> int:
    from .gateway.admin import import_assignments
    from .gateway.assignments_csv import parse_assignments_csv
    from .gateway.auth.users_csv import decode_csv

    try:
        text = decode_csv(args.csv.read_bytes())
    except OSError as exc:
        raise CommandError(f"cannot read {args.csv}: {exc.strerror}") from None
    except ValueError as exc:
        raise CommandError(f"{args.csv}: {exc}") from None
    rows, errors = parse_assignments_csv(text)

    async def action(state: GatewayState) -> Any:
        async with state.db.begin() as s:
            return await import_assignments(s, rows, errors, "cli")

    result = _with_state(args, action)
    print(f"changed {len(result.valid)} assignment(s); {len(result.unchanged)} already as asked")
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    return 1 if result.errors else 0


def _cmd_update_user(args: argparse.Namespace) -> int:
    from .gateway import admin

    async def action(state: GatewayState) -> bool:
        async with state.db.begin() as s:
            row = await admin.user(s, args.login_id)
            return await admin.update_user(
                s,
                args.login_id,
                display_name=args.name if args.name is not None else row.display_name,
                department=(
                    args.department
                    if args.department is not None
                    else await admin.department_name(s, row.department_id)
                ),
                role=args.role or row.role,
                actor="cli",
            )

    print(f"{args.login_id}: {'updated' if _with_state(args, action) else 'nothing to change'}")
    return 0


def _cmd_reset_password(args: argparse.Namespace) -> int:
    from .gateway import admin

    async def action(state: GatewayState) -> str:
        async with state.db.begin() as s:
            return await admin.reset_password(s, args.login_id, "cli")

    temporary = _with_state(args, action)
    print(f"{args.login_id}: temporary password (must be changed at the next login): {temporary}")
    return 0


# ---- terminals ------------------------------------------------------------------------------


def _with_state_hinting_reissue(args: argparse.Namespace, action: Callable[[GatewayState], Awaitable[Any]]) -> Any:
    from .gateway.admin import AdminError

    try:
        return _with_state(args, action)
    except AdminError as exc:
        if "already exists" in str(exc):
            raise CommandError(f"{exc} Add --reissue to give it a new certificate.") from None
        raise


def _cmd_terminal_add(args: argparse.Namespace) -> int:
    from .gateway.admin import issue_terminal_pkcs12

    async def action(state: GatewayState) -> Any:
        async with state.db.begin() as s:
            return await issue_terminal_pkcs12(
                s,
                state.ca,
                args.terminal_id,
                args.name or args.terminal_id,
                state.terminal_lifetime,
                "cli",
                reissue=args.reissue,
            )

    bundle = _with_state_hinting_reissue(args, action)
    _write_private(args.out, bundle.p12)
    print(f"terminal {args.terminal_id}: PKCS#12 written to {args.out} (mode 0600)")
    print(f"one-time import password: {bundle.password}")
    print("Import it on the terminal (certmgr / double-click, 'current user'), then delete the file.")
    return 0


def _cmd_terminal_sign(args: argparse.Namespace) -> int:
    from .gateway.admin import issue_terminal_csr

    try:
        csr = args.csr.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.csr}: {exc.strerror}") from None

    async def action(state: GatewayState) -> bytes:
        async with state.db.begin() as s:
            return await issue_terminal_csr(
                s,
                state.ca,
                args.terminal_id,
                args.name or args.terminal_id,
                csr,
                state.terminal_lifetime,
                "cli",
                reissue=args.reissue,
            )

    args.out.write_bytes(_with_state_hinting_reissue(args, action))
    print(f"terminal {args.terminal_id}: certificate written to {args.out}")
    return 0


def _cmd_terminal_revoke(args: argparse.Namespace) -> int:
    from .gateway.admin import revoke_terminal

    async def action(state: GatewayState) -> None:
        async with state.db.begin() as s:
            await revoke_terminal(s, args.terminal_id, args.reason, "cli")

    _with_state(args, action)
    print(f"terminal {args.terminal_id}: revoked")
    return 0


# ---- office PCs -----------------------------------------------------------------------------


def _cmd_host_add(args: argparse.Namespace) -> int:
    from .gateway.admin import register_host

    async def action(state: GatewayState) -> None:
        async with state.db.begin() as s:
            await register_host(
                s, state.ca, args.host_id, args.name or args.host_id, args.out, state.agent_lifetime, "cli"
            )

    _with_state(args, action)
    print(f"agent certificate for {args.host_id} written to {args.out}")
    return 0


def _cmd_host_token(args: argparse.Namespace) -> int:
    from .gateway.admin import create_enrollment_token

    async def action(state: GatewayState) -> str:
        async with state.db.begin() as s:
            return await create_enrollment_token(
                s, state.ca, args.host_id, args.name or args.host_id, args.hours, "cli"
            )

    token = _with_state(args, action)
    print(f"enrollment token for {args.host_id} (valid {args.hours:g} h, one use):\n{token}")
    print(f"On the office PC: jiseki agent enroll https://GATEWAY --token {token}")
    return 0


def _cmd_host_revoke(args: argparse.Namespace) -> int:
    from .gateway.admin import revoke_host

    async def action(state: GatewayState) -> None:
        async with state.db.begin() as s:
            await revoke_host(s, args.host_id, args.reason, "cli")

    _with_state(args, action)
    print(f"office PC {args.host_id}: agent certificate revoked")
    return 0


# ---- policies -------------------------------------------------------------------------------


def _cmd_policy_set(args: argparse.Namespace) -> int:
    from .gateway import admin
    from .gateway.policy_cli import settings_from_args, target_of
    from .policy_kinds import PolicyError

    scope, name = target_of(args)
    try:
        settings = settings_from_args(args)
    except PolicyError as exc:
        raise CommandError(str(exc)) from None

    async def action(state: GatewayState) -> dict[str, Any]:
        async with state.db.begin() as s:
            try:
                return await admin.set_policy(s, scope, name, settings, "cli")
            except PolicyError as exc:
                raise CommandError(str(exc)) from None

    after = _with_state(args, action)
    print(f"policy of {scope} {name!r}: " + ", ".join(f"{k}={v}" for k, v in after.items() if v is not None))
    return 0


def _cmd_policy_show(args: argparse.Namespace) -> int:
    from .gateway.policies_db import effective_for
    from .gateway.policy_cli import show_lines

    async def action(state: GatewayState) -> Any:
        async with state.db() as s:
            return await effective_for(s, args.login_id, args.host_id)

    eff = _with_state(args, action)
    print(f"effective policy for {args.login_id} on {args.host_id}:")
    print("\n".join(show_lines(eff)))
    return 0


def _cmd_host_group(args: argparse.Namespace) -> int:
    from .gateway import admin

    async def action(state: GatewayState) -> None:
        async with state.db.begin() as s:
            await admin.set_host_group(s, args.host_id, args.group, "cli")

    _with_state(args, action)
    print(f"{args.host_id}: host group {args.group or '(none)'}")
    return 0


# ---- audit ----------------------------------------------------------------------------------


def _jst_date(text: str | None, flag: str) -> Any:
    import datetime as dt

    from .i18n import JST

    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{flag}: give a date as YYYY-MM-DD (Japan time), got {text!r}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=JST)


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from .gateway.audit.chain import Head
    from .gateway.audit.head import HeadFileError
    from .gateway.audit.store import verify_chain

    try:
        expect = [Head.parse(text) for text in args.expect_head]
    except ValueError as exc:
        raise CommandError(f"--expect-head: {exc}") from None
    try:
        result = _with_state(args, lambda state: verify_chain(state.db, state.audit_head, expect))
    except HeadFileError as exc:
        raise CommandError(f"{exc} (if you know why, e.g. after restoring a backup, move it away)") from None
    print(result)
    return 0 if result.ok else 3


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from .gateway.audit.export import write_csv, write_jsonl
    from .gateway.audit.store import records_between

    start, end = _jst_date(args.date_from, "--from"), _jst_date(args.date_to, "--to")

    async def action(state: GatewayState) -> list[Any]:
        return [r async for r in records_between(state.db, start, end, state.audit_head)]

    records = _with_state(args, action)
    writer = write_csv if args.format == "csv" else write_jsonl
    if args.out is None:
        count = writer(records, sys.stdout)
    else:
        with args.out.open("w", encoding="utf-8", newline="") as fh:
            count = writer(records, fh)
        print(f"{count} record(s) written to {args.out}", file=sys.stderr)
    return 0


def _cmd_audit_purge(args: argparse.Namespace) -> int:
    from .gateway.audit.store import purge_before

    cutoff = _jst_date(args.before, "--before")
    count = _with_state(args, lambda state: purge_before(state.db, cutoff, "cli", state.audit_head))
    print(f"{count} record(s) before {args.before} purged; the chain stays verifiable from its anchor")
    return 0


def _cmd_report_usage(args: argparse.Namespace) -> int:
    from .gateway import reports
    from .gateway.db.models import utcnow
    from .i18n import gettext

    first, last = _jst_date(args.date_from, "--from").date(), _jst_date(args.date_to, "--to").date()
    if last <= first:
        raise CommandError("--to must be after --from")

    async def action(state: GatewayState) -> list[reports.Span]:
        async with state.db() as s:
            return await reports.load_spans(s, first, last, utcnow())

    spans = _with_state(args, action)
    rows = reports.usage(spans, first, last, args.by, args.group)

    def tr(msgid: str) -> str:
        return gettext(args.lang, msgid)

    if args.format == "xlsx":
        if args.out is None:
            raise CommandError("--format xlsx needs --out FILE.xlsx")
        reports.write_xlsx(rows, reports.by_hour(spans, first, last), args.out, tr)
    elif args.format == "csv":
        if args.out is None:
            reports.write_csv(rows, sys.stdout, tr)
        else:
            with args.out.open("w", encoding="utf-8", newline="") as fh:
                reports.write_csv(rows, fh, tr)
    else:
        print(" | ".join(tr(reports.HEADERS[c]) for c in reports.COLUMNS))
        for values in reports.table(rows):
            print(" | ".join(str(v) for v in values))
    return 0


# ---- agent ----------------------------------------------------------------------------------


def _cmd_agent(args: argparse.Namespace) -> int:
    from .agent.capture.x11 import X11Capture
    from .agent.clipboard.x11 import X11Clipboard
    from .agent.host.x11 import X11HostControl
    from .agent.input.x11 import X11Input
    from .agent.runner import Agent

    config = load_config(args.config).agent
    display = config.display or os.environ.get("DISPLAY")
    if not display:
        raise ConfigError("agent.display: not set and $DISPLAY is empty")
    agent = Agent(
        config,
        lambda: X11Capture(display),
        lambda: X11Input(display),
        host=X11HostControl(display, config.lock_command),
        make_clipboard=lambda: X11Clipboard(display),
    )
    asyncio.run(_until_signalled(agent.run_forever(), agent.close_session))
    return 0


async def _until_signalled(work: Any, before_cancel: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run `work` until SIGTERM or Ctrl+C, then cancel it so that it can clean up."""
    import signal

    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()

    async def stop() -> None:
        if before_cancel is not None:
            try:
                await asyncio.wait_for(before_cancel(), 5)
            except (TimeoutError, OSError):
                pass
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: loop.create_task(stop()))
    try:
        await task
    except asyncio.CancelledError:
        pass


def _cmd_agent_enroll(args: argparse.Namespace) -> int:
    from .agent.enroll import EnrollFailed, enroll

    config = load_config(args.config).agent
    cert_dir = args.cert_dir or config.cert_dir
    try:
        host_id = enroll(args.gateway_url, args.token, cert_dir)
    except EnrollFailed as exc:
        raise CommandError(f"enrollment failed: {exc}") from None
    print(f"enrolled as {host_id}; certificate in {cert_dir}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import addresses
    from .demo.run import DemoOptions, run_demo

    if args.config is not None:
        raise CommandError("demo: --config is not used; the demo writes its own configuration in --data-dir")
    try:
        listen = addresses.check_listen(args.listen)
        names = tuple(addresses.check_name(n) for n in args.name)
    except ValueError as exc:
        raise CommandError(f"demo: {exc}") from None
    return run_demo(
        DemoOptions(
            data_dir=args.data_dir,
            port=args.port,
            listen=listen,
            names=names,
            install_certificate=args.install_certificate,
            browser_policy_dir=args.browser_policy_dir,
        )
    )


# ---- parser ---------------------------------------------------------------------------------


def _global_options(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    """`--config` and `-v` on the top parser and again on every subcommand, so they may come before or
    after it. Below the top their default is SUPPRESS: a value given earlier is kept, a later one wins."""
    p.add_argument("--config", type=Path, default=None if top else argparse.SUPPRESS, help="TOML configuration file")
    p.add_argument(
        "-v", "--verbose", action="store_true", default=False if top else argparse.SUPPRESS, help="debug logging"
    )


def _group(sub: Any, name: str, text: str, dest: str) -> Any:
    """A command group (`admin`, `host`...) whose commands are required; takes the global options too."""
    group = sub.add_parser(name, help=text)
    _global_options(group)
    return group.add_subparsers(dest=dest, required=True)


def build_parser() -> argparse.ArgumentParser:
    from .gateway import policy_cli

    parser = argparse.ArgumentParser(
        prog="jiseki", description="Operate your office desk PC from a registered terminal."
    )
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)

    gw = sub.add_parser("gateway", help="run a gateway node")
    _global_options(gw)
    gw.set_defaults(func=_cmd_gateway)

    db = _group(sub, "db", "database maintenance", "db_command")
    up = db.add_parser("upgrade", help="apply the database migrations")
    _global_options(up)
    up.set_defaults(func=_cmd_db_upgrade)

    admin = _group(sub, "admin", "staff accounts", "admin_command")
    cu = admin.add_parser("create-user", help="create a staff account")
    cu.add_argument("login_id")
    cu.add_argument("--name", required=True, help="display name (氏名)")
    cu.add_argument("--department", help="department (所属)")
    cu.add_argument("--role", default="staff", choices=("staff", "helpdesk", "admin", "auditor"))
    group = cu.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    group.add_argument("--temporary-password", action="store_true", help="generate one to change at first login")
    _global_options(cu)
    cu.set_defaults(func=_cmd_create_user)
    iu = admin.add_parser("import-users", help="create accounts from a CSV (login_id, display_name, department, role)")
    iu.add_argument("csv", type=Path)
    iu.add_argument("--passwords-out", type=Path, default=Path("initial-passwords.csv"))
    _global_options(iu)
    iu.set_defaults(func=_cmd_import_users)
    for name, text in (
        ("unlock", "unlock a locked account"),
        ("reset-totp", "make the user set up the app again"),
        ("disable", "disable an account"),
        ("enable", "enable an account"),
    ):
        p = admin.add_parser(name, help=text)
        p.add_argument("login_id")
        _global_options(p)
        p.set_defaults(func=_simple_user_action(name))
    asg = admin.add_parser("assign", help="let a staff member use an office PC")
    asg.add_argument("login_id")
    asg.add_argument("host_id")
    asg.add_argument("--remove", action="store_true", help="take the assignment away instead")
    _global_options(asg)
    asg.set_defaults(func=_cmd_assign)
    ia = admin.add_parser("import-assignments", help="assign (or remove) from a CSV (login_id, host_id[, action])")
    ia.add_argument("csv", type=Path)
    _global_options(ia)
    ia.set_defaults(func=_cmd_import_assignments)
    uu = admin.add_parser("update-user", help="change a staff account's name, department or role")
    uu.add_argument("login_id")
    uu.add_argument("--name")
    uu.add_argument("--department")
    uu.add_argument("--role", choices=("staff", "helpdesk", "admin", "auditor"))
    _global_options(uu)
    uu.set_defaults(func=_cmd_update_user)
    rp = admin.add_parser("reset-password", help="give the account a temporary password to change at next login")
    rp.add_argument("login_id")
    _global_options(rp)
    rp.set_defaults(func=_cmd_reset_password)

    term = _group(sub, "terminal", "registered telework terminals", "terminal_command")
    ta = term.add_parser("add", help="register a terminal and write a one-time PKCS#12 bundle")
    ta.add_argument("terminal_id")
    ta.add_argument("--name")
    ta.add_argument("--out", type=Path, required=True, help="the .p12 file to write")
    ta.add_argument("--reissue", action="store_true", help="a new certificate for a registered terminal")
    _global_options(ta)
    ta.set_defaults(func=_cmd_terminal_add)
    ts = term.add_parser("sign", help="register a terminal from a CSR made on it")
    ts.add_argument("terminal_id")
    ts.add_argument("--name")
    ts.add_argument("--csr", type=Path, required=True)
    ts.add_argument("--out", type=Path, required=True, help="the certificate (PEM chain) to write")
    ts.add_argument("--reissue", action="store_true", help="a new certificate for a registered terminal")
    _global_options(ts)
    ts.set_defaults(func=_cmd_terminal_sign)
    tr = term.add_parser("revoke", help="revoke a terminal's certificate")
    tr.add_argument("terminal_id")
    tr.add_argument("--reason", default="revoked by administrator")
    _global_options(tr)
    tr.set_defaults(func=_cmd_terminal_revoke)

    host = _group(sub, "host", "office PCs", "host_command")
    add = host.add_parser("add", help="register an office PC and write its agent files (demo, tests)")
    add.add_argument("host_id")
    add.add_argument("--name")
    add.add_argument("--out", type=Path, required=True, help="directory for agent.key, agent.crt and ca.crt")
    _global_options(add)
    add.set_defaults(func=_cmd_host_add)
    tok = host.add_parser("token", help="make a one-time enrollment token for an office PC")
    tok.add_argument("host_id")
    tok.add_argument("--name", help="display name")
    tok.add_argument("--hours", type=float, default=24.0, help="validity (default 24, at most 336)")
    _global_options(tok)
    tok.set_defaults(func=_cmd_host_token)
    hr = host.add_parser("revoke", help="revoke an office PC's agent certificate")
    hr.add_argument("host_id")
    hr.add_argument("--reason", default="revoked by administrator")
    _global_options(hr)
    hr.set_defaults(func=_cmd_host_revoke)

    hg = host.add_parser("group", help="put an office PC in a host group (for policies)")
    hg.add_argument("host_id")
    hg.add_argument("group", nargs="?", default="", help="group name; empty removes it from its group")
    _global_options(hg)
    hg.set_defaults(func=_cmd_host_group)

    pol = _group(sub, "policy", "session policies", "policy_command")
    ps = pol.add_parser("set", help="set policy values of a department or a host group (others unchanged)")
    policy_cli.add_set_arguments(ps)
    _global_options(ps)
    ps.set_defaults(func=_cmd_policy_set)
    pv = pol.add_parser("show", help="the effective policy of a staff member on an office PC, with its sources")
    pv.add_argument("login_id")
    pv.add_argument("host_id")
    _global_options(pv)
    pv.set_defaults(func=_cmd_policy_show)

    aud = _group(sub, "audit", "the audit trail", "audit_command")
    av = aud.add_parser(
        "verify", help="check the whole hash chain, its anchor and its head; names the first broken record"
    )
    av.add_argument(
        "--expect-head",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="a head kept outside the database (e.g. seq and hash of the last record the SIEM received) "
        "that must be in the chain; may be repeated",
    )
    _global_options(av)
    av.set_defaults(func=_cmd_audit_verify)
    ae = aud.add_parser("export", help="export records (CSV for Excel, or JSON lines)")
    ae.add_argument("--from", dest="date_from", help="first day (YYYY-MM-DD, Japan time)")
    ae.add_argument("--to", dest="date_to", help="day after the last (YYYY-MM-DD, Japan time)")
    ae.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    ae.add_argument("--out", type=Path, help="file to write (default: standard output)")
    _global_options(ae)
    ae.set_defaults(func=_cmd_audit_export)
    ap = aud.add_parser("purge", help="delete records before a day, keeping the chain verifiable")
    ap.add_argument("--before", required=True, help="YYYY-MM-DD (Japan time)")
    _global_options(ap)
    ap.set_defaults(func=_cmd_audit_purge)

    rep = _group(sub, "report", "usage reports", "report_command")
    ru = rep.add_parser("usage", help="sessions, hours, users and peak concurrency per period")
    ru.add_argument("--from", dest="date_from", required=True, help="first day (YYYY-MM-DD, Japan time)")
    ru.add_argument("--to", dest="date_to", required=True, help="day after the last (YYYY-MM-DD)")
    ru.add_argument("--by", choices=("day", "week", "month"), default="day")
    ru.add_argument("--group", choices=("all", "department", "user"), default="all")
    ru.add_argument("--format", choices=("table", "csv", "xlsx"), default="table")
    ru.add_argument("--lang", choices=("ja", "en"), default="ja")
    ru.add_argument("--out", type=Path)
    _global_options(ru)
    ru.set_defaults(func=_cmd_report_usage)

    ag = sub.add_parser("agent", help="the agent on the office PC (runs it when no subcommand is given)")
    _global_options(ag)
    ag.set_defaults(func=_cmd_agent)
    ag_sub = ag.add_subparsers(dest="agent_command")
    en = ag_sub.add_parser("enroll", help="obtain this PC's certificate with a one-time token")
    en.add_argument("gateway_url", help="https://gateway.example")
    en.add_argument("--token", required=True)
    en.add_argument("--cert-dir", type=Path, help="where to store the key and certificate (default: agent.cert_dir)")
    _global_options(en)
    en.set_defaults(func=_cmd_agent_enroll)

    demo = sub.add_parser("demo", help="virtual office PC + agent + gateway on this machine")
    demo.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where the demo keeps its state")
    demo.add_argument("--port", type=int, default=8443, help="gateway HTTPS port (default 8443)")
    demo.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every IPv4 address)."
        " From another PC, prefer: ssh -L 8443:127.0.0.1:8443 SERVER",
    )
    demo.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name or address other machines use to reach this one, added to the server certificate"
        " (repeatable; with --listen 0.0.0.0 this machine's names and addresses are added anyway)",
    )
    demo.add_argument(
        "--install-certificate",
        action="store_true",
        help="import the demo CA and terminal certificate into this user's Chromium (NSS database) and,"
        " when allowed, write a policy that selects it; all removed again when the demo stops",
    )
    demo.add_argument(
        "--browser-policy-dir",
        type=Path,
        metavar="DIR",
        help="where --install-certificate writes the Chromium policy (default /etc/chromium/policies/managed;"
        " Google Chrome: /etc/opt/chrome/policies/managed)",
    )
    _global_options(demo)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    # Everything a command creates (database and its WAL, recordings, keys, exports, directories) is
    # for this user only, whatever umask the shell or service manager gave.
    previous_umask = os.umask(0o077)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"jiseki: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"jiseki: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # operator-fixable errors from the gateway's modules
        from .gateway.admin import AdminError
        from .gateway.pki import PKIError

        if isinstance(exc, AdminError | PKIError):
            print(f"jiseki: {exc}", file=sys.stderr)
            return 1
        raise
    finally:
        os.umask(previous_umask)  # matters only when called in-process (tests)
