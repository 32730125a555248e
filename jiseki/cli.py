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
    from .gateway.auth.users_csv import decode_csv, parse_staff_csv

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
        lines = "login_id,temporary_password\n" + "".join(f"{u},{p}\n" for u, p in result.created)
        _write_private(args.passwords_out, lines.encode())
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
    from .gateway import audit
    from .gateway.hosts import assign

    async def action(state: GatewayState) -> bool:
        async with state.db.begin() as s:
            try:
                added = await assign(s, args.login_id, args.host_id)
            except LookupError as exc:
                raise CommandError(str(exc).strip("'\"")) from None
            s.add(audit.event("assigned", "ok", actor="cli", subject=args.host_id, user=args.login_id))
            return added

    added = _with_state(args, action)
    print(f"{args.login_id} → {args.host_id}: {'assigned' if added else 'was already assigned'}")
    return 0


# ---- terminals ------------------------------------------------------------------------------


def _cmd_terminal_add(args: argparse.Namespace) -> int:
    from .gateway import audit
    from .gateway.terminals import issue_pkcs12

    async def action(state: GatewayState) -> Any:
        async with state.db.begin() as s:
            bundle = await issue_pkcs12(
                s, state.ca, args.terminal_id, args.name or args.terminal_id, state.terminal_lifetime
            )
            s.add(audit.event("terminal_registered", "ok", actor="cli", subject=args.terminal_id, method="pkcs12"))
            return bundle

    bundle = _with_state(args, action)
    _write_private(args.out, bundle.p12)
    print(f"terminal {args.terminal_id}: PKCS#12 written to {args.out} (mode 0600)")
    print(f"one-time import password: {bundle.password}")
    print("Import it on the terminal (certmgr / double-click, 'current user'), then delete the file.")
    return 0


def _cmd_terminal_sign(args: argparse.Namespace) -> int:
    from .gateway import audit
    from .gateway.terminals import sign_terminal_csr

    try:
        csr = args.csr.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.csr}: {exc.strerror}") from None

    async def action(state: GatewayState) -> bytes:
        async with state.db.begin() as s:
            chain = await sign_terminal_csr(
                s, state.ca, args.terminal_id, args.name or args.terminal_id, csr, state.terminal_lifetime
            )
            s.add(audit.event("terminal_registered", "ok", actor="cli", subject=args.terminal_id, method="csr"))
            return chain

    args.out.write_bytes(_with_state(args, action))
    print(f"terminal {args.terminal_id}: certificate written to {args.out}")
    return 0


def _cmd_terminal_revoke(args: argparse.Namespace) -> int:
    from .gateway import audit
    from .gateway.terminals import revoke_terminal

    async def action(state: GatewayState) -> bool:
        async with state.db.begin() as s:
            done = await revoke_terminal(s, args.terminal_id, args.reason)
            s.add(
                audit.event(
                    "terminal_revoked",
                    "ok" if done else "error",
                    actor="cli",
                    subject=args.terminal_id,
                    reason=args.reason,
                )
            )
            return done

    if not _with_state(args, action):
        raise CommandError(f"no terminal {args.terminal_id!r}")
    print(f"terminal {args.terminal_id}: revoked")
    return 0


# ---- office PCs -----------------------------------------------------------------------------


def _cmd_host_add(args: argparse.Namespace) -> int:
    from .gateway.hosts import register_host

    async def action(state: GatewayState) -> None:
        async with state.db.begin() as s:
            await register_host(s, state.ca, args.host_id, args.name or args.host_id, args.out, state.agent_lifetime)

    _with_state(args, action)
    print(f"agent certificate for {args.host_id} written to {args.out}")
    return 0


def _cmd_host_token(args: argparse.Namespace) -> int:
    import datetime as dt

    from .gateway import audit, enrollment
    from .gateway.db.models import utcnow
    from .gateway.hosts import valid_host_id

    if not valid_host_id(args.host_id):
        raise CommandError("host IDs use letters, digits, '.', '_' and '-' (at most 64)")

    async def action(state: GatewayState) -> str:
        async with state.db.begin() as s:
            token = await enrollment.create(
                s,
                state.ca.root_fingerprint,
                args.host_id,
                args.name or args.host_id,
                dt.timedelta(hours=args.hours),
                "cli",
                utcnow(),
            )
            s.add(audit.event("enrollment_token", "ok", actor="cli", subject=args.host_id, hours=args.hours))
            return token

    token = _with_state(args, action)
    print(f"enrollment token for {args.host_id} (valid {args.hours:g} h, one use):\n{token}")
    print(f"On the office PC: jiseki agent enroll https://GATEWAY --token {token}")
    return 0


def _cmd_host_revoke(args: argparse.Namespace) -> int:
    from .gateway import audit
    from .gateway.hosts import revoke_host

    async def action(state: GatewayState) -> bool:
        async with state.db.begin() as s:
            done = await revoke_host(s, args.host_id, args.reason)
            s.add(
                audit.event(
                    "host_revoked", "ok" if done else "error", actor="cli", subject=args.host_id, reason=args.reason
                )
            )
            return done

    if not _with_state(args, action):
        raise CommandError(f"no office PC {args.host_id!r}")
    print(f"office PC {args.host_id}: agent certificate revoked")
    return 0


# ---- policies -------------------------------------------------------------------------------

_YES_NO = {"yes": True, "no": False, "on": True, "off": False, "true": True, "false": False}


def _policy_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in ("clipboard", "clipboard_max_bytes", "idle_minutes", "max_minutes", "days", "conflict"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    for key in ("view_only", "watermark", "lock_on_end", "curtain"):
        value = getattr(args, key)
        if value is not None:
            if value.lower() not in _YES_NO:
                raise CommandError(f"--{key.replace('_', '-')}: answer yes or no")
            settings[key] = _YES_NO[value.lower()]
    if args.hours is not None:
        if args.hours == "any":
            settings["start"] = settings["end"] = None
        else:
            start, sep, end = args.hours.partition("-")
            if not sep:
                raise CommandError("--hours: give a window such as 08:00-20:00, or 'any'")
            settings["start"], settings["end"] = start.strip(), end.strip()
    return settings


def _cmd_policy_set(args: argparse.Namespace) -> int:
    from .gateway import audit
    from .gateway.policies_db import set_policy
    from .gateway.policy import PolicyError

    scope, name = ("department", args.department) if args.department else ("host_group", args.host_group)
    settings = _policy_settings(args)

    async def action(state: GatewayState) -> dict[str, Any]:
        async with state.db.begin() as s:
            try:
                before, after = await set_policy(s, scope, name, settings, "cli")
            except PolicyError as exc:
                raise CommandError(str(exc)) from None
            s.add(
                audit.event("policy_changed", "ok", actor="cli", subject=f"{scope}:{name}", before=before, after=after)
            )
            return after

    after = _with_state(args, action)
    print(f"policy of {scope} {name!r}: " + ", ".join(f"{k}={v}" for k, v in after.items() if v is not None))
    return 0


def _cmd_policy_show(args: argparse.Namespace) -> int:
    from .gateway.policies_db import effective_for
    from .gateway.policy import DAY_NAMES

    async def action(state: GatewayState) -> Any:
        async with state.db() as s:
            return await effective_for(s, args.login_id, args.host_id)

    eff = _with_state(args, action)
    rows = {
        "clipboard": eff.clipboard,
        "clipboard_max_bytes": eff.clipboard_max_bytes,
        "view_only": eff.view_only,
        "idle_minutes": eff.idle_minutes or "none",
        "max_minutes": eff.max_minutes or "none",
        "days": ",".join(DAY_NAMES[d] for d in sorted(eff.days)),
        "windows": " and ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in eff.windows) or "any time",
        "conflict": eff.conflict,
        "watermark": eff.watermark,
        "lock_on_end": eff.lock_on_end,
        "curtain": eff.curtain,
    }
    print(f"effective policy for {args.login_id} on {args.host_id}:")
    for key, value in rows.items():
        print(f"  {key:20} {value!s:24} (from {eff.sources[key]})")
    return 0


def _cmd_host_group(args: argparse.Namespace) -> int:
    from .gateway.policies_db import set_host_group
    from .gateway.policy import PolicyError

    async def action(state: GatewayState) -> None:
        async with state.db.begin() as s:
            try:
                await set_host_group(s, args.host_id, args.group or None)
            except PolicyError as exc:
                raise CommandError(str(exc)) from None

    _with_state(args, action)
    print(f"{args.host_id}: host group {args.group or '(none)'}")
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
    try:
        asyncio.run(agent.run_forever())
    except KeyboardInterrupt:
        pass
    return 0


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
    from .demo.run import run_demo

    return run_demo(data_dir=args.data_dir, port=args.port, install_certificate=args.install_certificate)


# ---- parser ---------------------------------------------------------------------------------


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML configuration file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiseki", description="Operate your office desk PC from a registered terminal."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    gw = sub.add_parser("gateway", help="run a gateway node")
    _config_arg(gw)
    gw.set_defaults(func=_cmd_gateway)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply the database migrations")
    _config_arg(up)
    up.set_defaults(func=_cmd_db_upgrade)

    admin = sub.add_parser("admin", help="staff accounts").add_subparsers(dest="admin_command", required=True)
    cu = admin.add_parser("create-user", help="create a staff account")
    cu.add_argument("login_id")
    cu.add_argument("--name", required=True, help="display name (氏名)")
    cu.add_argument("--department", help="department (所属)")
    cu.add_argument("--role", default="staff", choices=("staff", "helpdesk", "admin", "auditor"))
    group = cu.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    group.add_argument("--temporary-password", action="store_true", help="generate one to change at first login")
    _config_arg(cu)
    cu.set_defaults(func=_cmd_create_user)
    iu = admin.add_parser("import-users", help="create accounts from a CSV (login_id, display_name, department, role)")
    iu.add_argument("csv", type=Path)
    iu.add_argument("--passwords-out", type=Path, default=Path("initial-passwords.csv"))
    _config_arg(iu)
    iu.set_defaults(func=_cmd_import_users)
    for name, text in (
        ("unlock", "unlock a locked account"),
        ("reset-totp", "make the user set up the app again"),
        ("disable", "disable an account"),
        ("enable", "enable an account"),
    ):
        p = admin.add_parser(name, help=text)
        p.add_argument("login_id")
        _config_arg(p)
        p.set_defaults(func=_simple_user_action(name))
    asg = admin.add_parser("assign", help="let a staff member use an office PC")
    asg.add_argument("login_id")
    asg.add_argument("host_id")
    _config_arg(asg)
    asg.set_defaults(func=_cmd_assign)

    term = sub.add_parser("terminal", help="registered telework terminals").add_subparsers(
        dest="terminal_command", required=True
    )
    ta = term.add_parser("add", help="register a terminal and write a one-time PKCS#12 bundle")
    ta.add_argument("terminal_id")
    ta.add_argument("--name")
    ta.add_argument("--out", type=Path, required=True, help="the .p12 file to write")
    _config_arg(ta)
    ta.set_defaults(func=_cmd_terminal_add)
    ts = term.add_parser("sign", help="register a terminal from a CSR made on it")
    ts.add_argument("terminal_id")
    ts.add_argument("--name")
    ts.add_argument("--csr", type=Path, required=True)
    ts.add_argument("--out", type=Path, required=True, help="the certificate (PEM chain) to write")
    _config_arg(ts)
    ts.set_defaults(func=_cmd_terminal_sign)
    tr = term.add_parser("revoke", help="revoke a terminal's certificate")
    tr.add_argument("terminal_id")
    tr.add_argument("--reason", default="revoked by administrator")
    _config_arg(tr)
    tr.set_defaults(func=_cmd_terminal_revoke)

    host = sub.add_parser("host", help="office PCs").add_subparsers(dest="host_command", required=True)
    add = host.add_parser("add", help="register an office PC and write its agent files (demo, tests)")
    add.add_argument("host_id")
    add.add_argument("--name")
    add.add_argument("--out", type=Path, required=True, help="directory for agent.key, agent.crt and ca.crt")
    _config_arg(add)
    add.set_defaults(func=_cmd_host_add)
    tok = host.add_parser("token", help="make a one-time enrollment token for an office PC")
    tok.add_argument("host_id")
    tok.add_argument("--name", help="display name")
    tok.add_argument("--hours", type=float, default=24.0, help="validity (default 24)")
    _config_arg(tok)
    tok.set_defaults(func=_cmd_host_token)
    hr = host.add_parser("revoke", help="revoke an office PC's agent certificate")
    hr.add_argument("host_id")
    hr.add_argument("--reason", default="revoked by administrator")
    _config_arg(hr)
    hr.set_defaults(func=_cmd_host_revoke)

    hg = host.add_parser("group", help="put an office PC in a host group (for policies)")
    hg.add_argument("host_id")
    hg.add_argument("group", nargs="?", default="", help="group name; empty removes it from its group")
    _config_arg(hg)
    hg.set_defaults(func=_cmd_host_group)

    pol = sub.add_parser("policy", help="session policies").add_subparsers(dest="policy_command", required=True)
    ps = pol.add_parser("set", help="set policy values of a department or a host group (others unchanged)")
    target = ps.add_mutually_exclusive_group(required=True)
    target.add_argument("--department")
    target.add_argument("--host-group")
    ps.add_argument("--clipboard", choices=("none", "to_host", "to_terminal", "both"))
    ps.add_argument("--clipboard-max-bytes", type=int)
    ps.add_argument("--view-only", metavar="yes|no")
    ps.add_argument("--idle-minutes", type=int, help="0 = no idle limit")
    ps.add_argument("--max-minutes", type=int, help="0 = no maximum")
    ps.add_argument("--days", help="e.g. mon,tue,wed,thu,fri")
    ps.add_argument("--hours", help="allowed window in Japan time, e.g. 08:00-20:00; 'any' removes it")
    ps.add_argument("--conflict", choices=("refuse", "takeover"), help="a second login to a PC in use")
    ps.add_argument("--watermark", metavar="yes|no")
    ps.add_argument("--lock-on-end", metavar="yes|no")
    ps.add_argument("--curtain", metavar="yes|no")
    _config_arg(ps)
    ps.set_defaults(func=_cmd_policy_set)
    pv = pol.add_parser("show", help="the effective policy of a staff member on an office PC, with its sources")
    pv.add_argument("login_id")
    pv.add_argument("host_id")
    _config_arg(pv)
    pv.set_defaults(func=_cmd_policy_show)

    ag = sub.add_parser("agent", help="the agent on the office PC (runs it when no subcommand is given)")
    _config_arg(ag)
    ag.set_defaults(func=_cmd_agent)
    ag_sub = ag.add_subparsers(dest="agent_command")
    en = ag_sub.add_parser("enroll", help="obtain this PC's certificate with a one-time token")
    en.add_argument("gateway_url", help="https://gateway.example")
    en.add_argument("--token", required=True)
    en.add_argument("--cert-dir", type=Path, help="where to store the key and certificate (default: agent.cert_dir)")
    _config_arg(en)
    en.set_defaults(func=_cmd_agent_enroll)

    demo = sub.add_parser("demo", help="virtual office PC + agent + gateway on this machine")
    demo.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where the demo keeps its state")
    demo.add_argument("--port", type=int, default=8443, help="gateway HTTPS port on 127.0.0.1")
    demo.add_argument(
        "--install-certificate",
        action="store_true",
        help="import the demo CA and terminal certificate into this user's Chromium (NSS database)",
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
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
