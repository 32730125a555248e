"""`jiseki admin …`: staff accounts, assignments and their CSV imports, each through the audited
operations of `jiseki.gateway.admin`."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import CommandError, read_csv
from .context import Context
from .options import command, group

# `jiseki.gateway.auth.accounts.ROLES`, repeated so that the parser is built without the gateway
# (`jiseki agent` on an office PC); a test keeps the two equal.
ROLES = ("staff", "helpdesk", "admin", "auditor")
ACTOR = "cli"  # the audit events' actor


def _read_new_password(args: argparse.Namespace) -> str | None:
    if args.temporary_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat: "):
        raise CommandError("the two passwords differ")
    return first


def create_user(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    password = _read_new_password(args)

    async def action(ctx: Context) -> str | None:
        async with ctx.transaction() as s:
            return await admin.create_user(
                s, ctx.password_policy, args.login_id, args.name, args.department or "", args.role, password, ACTOR
            )

    temporary = ctx.run(action)
    print(f"created {args.login_id} ({args.role})")
    if temporary:
        print(f"temporary password (must be changed at first login): {temporary}")
    return 0


def import_users(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin
    from jiseki.gateway.auth.users_csv import initial_passwords_csv, parse_staff_csv
    from jiseki.trust.tls import write_private

    rows, errors = parse_staff_csv(read_csv(args.csv))

    result = ctx.write(lambda s: admin.import_users(s, rows, errors, ACTOR, upsert=args.update))
    if result.created:
        write_private(args.passwords_out, initial_passwords_csv(result.created).encode())
    print(f"created {len(result.created)} account(s); temporary passwords in {args.passwords_out} (mode 0600)")
    changed = ", ".join(f"{k} {n}" for k, n in result.counts.items() if n and k not in ("create", "error"))
    if changed:
        print(f"also: {changed}")
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    return 1 if result.errors else 0


def _account_action(name: str) -> Callable[[argparse.Namespace, Context], int]:
    """unlock, reset-totp, disable, enable, allow-/refuse-local-password: one account, no other argument."""

    def run(args: argparse.Namespace, ctx: Context) -> int:
        from jiseki.gateway import admin

        async def action(ctx: Context) -> None:
            async with ctx.transaction() as s:
                if name == "unlock":
                    await admin.unlock_user(s, args.login_id, ACTOR)
                elif name == "reset-totp":
                    await admin.reset_totp(s, args.login_id, ACTOR)
                elif name.endswith("-local-password"):
                    await admin.set_local_password(s, args.login_id, name.startswith("allow"), ACTOR)
                else:
                    await admin.set_disabled(s, args.login_id, name == "disable", ACTOR)

        ctx.run(action)
        print(f"{name}: {args.login_id} done")
        return 0

    return run


def assign(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    async def action(ctx: Context) -> bool:
        async with ctx.transaction() as s:
            if args.remove:
                return await admin.unassign(s, args.login_id, args.host_id, ACTOR)
            return await admin.assign(s, args.login_id, args.host_id, ACTOR)

    changed = ctx.run(action)
    if args.remove:
        print(f"{args.login_id} → {args.host_id}: {'removed' if changed else 'was not assigned'}")
    else:
        print(f"{args.login_id} → {args.host_id}: {'assigned' if changed else 'was already assigned'}")
    return 0


def import_assignments(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin
    from jiseki.gateway.assignments_csv import parse_assignments_csv

    rows, errors = parse_assignments_csv(read_csv(args.csv))

    result = ctx.write(lambda s: admin.import_assignments(s, rows, errors, ACTOR))
    print(f"changed {len(result.valid)} assignment(s); {len(result.unchanged)} already as asked")
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    return 1 if result.errors else 0


def update_user(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    async def action(ctx: Context) -> bool:
        async with ctx.transaction() as s:
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
                actor=ACTOR,
            )

    print(f"{args.login_id}: {'updated' if ctx.run(action) else 'nothing to change'}")
    return 0


def reset_password(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    temporary = ctx.write(lambda s: admin.reset_password(s, args.login_id, ACTOR))
    print(f"{args.login_id}: temporary password (must be changed at the next login): {temporary}")
    return 0


def scope(args: argparse.Namespace, ctx: Context) -> int:
    """Show, set or clear what a console account looks after (所掌範囲)."""
    from jiseki.gateway import admin
    from jiseki.gateway.admin.scopes import ids_of_names
    from jiseki.gateway.db.models import Department, HostGroup
    from jiseki.gateway.queries.staff import scope_names
    from jiseki.gateway.scope import scope_of

    changing = args.clear or args.department or args.host_group
    if args.clear and (args.department or args.host_group):
        raise CommandError("--clear takes no --department or --host-group")

    async def action(ctx: Context) -> tuple[bool, list[str], list[str]]:
        async with ctx.transaction() as s:
            await admin.user(s, args.login_id)
            changed = False
            if changing:
                departments = await ids_of_names(s, Department, args.department or [])
                groups = await ids_of_names(s, HostGroup, args.host_group or [])
                changed = await admin.change_scope(s, args.login_id, departments, groups, ACTOR)
            names = await scope_names(s, await scope_of(s, args.login_id))
            return changed, *names

    changed, departments, groups = ctx.run(action)
    if not departments and not groups:
        print(f"{args.login_id}: the whole organisation")
    else:
        print(f"{args.login_id}: departments: {', '.join(departments) or '-'}; PC groups: {', '.join(groups) or '-'}")
    if changing and not changed:
        print("(nothing to change)")
    return 0


def register(sub: Any) -> None:
    admin = group(sub, "admin", "staff accounts", "admin_command")

    p = command(admin, "create-user", "create a staff account", create_user)
    p.add_argument("login_id")
    p.add_argument("--name", required=True, help="display name (氏名)")
    p.add_argument("--department", help="department (所属)")
    p.add_argument("--role", default="staff", choices=ROLES)
    password = p.add_mutually_exclusive_group()
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    password.add_argument("--temporary-password", action="store_true", help="generate one to change at first login")

    p = command(
        admin,
        "import-users",
        "create or change accounts from a CSV (login_id, display_name, reading, department, role, action)",
        import_users,
    )
    p.add_argument("csv", type=Path)
    p.add_argument("--passwords-out", type=Path, default=Path("initial-passwords.csv"))
    p.add_argument(
        "--update",
        action="store_true",
        help="update mode: a row without an action updates an existing account (else only the action column changes"
        " existing accounts: update, disable, enable, delete)",
    )

    for name, text in (
        ("unlock", "unlock a locked account"),
        ("reset-totp", "make the user set up the app again"),
        ("disable", "disable an account"),
        ("enable", "enable an account"),
        ("allow-local-password", "let a directory account also use its password kept here (break-glass)"),
        ("refuse-local-password", "a directory account signs in with its directory password only"),
    ):
        command(admin, name, text, _account_action(name)).add_argument("login_id")

    p = command(admin, "assign", "let a staff member use an office PC", assign)
    p.add_argument("login_id")
    p.add_argument("host_id")
    p.add_argument("--remove", action="store_true", help="take the assignment away instead")

    p = command(
        admin,
        "import-assignments",
        "assign (or remove) from a CSV (login_id, host_id[, action])",
        import_assignments,
    )
    p.add_argument("csv", type=Path)

    p = command(admin, "update-user", "change a staff account's name, department or role", update_user)
    p.add_argument("login_id")
    p.add_argument("--name")
    p.add_argument("--department")
    p.add_argument("--role", choices=ROLES)

    p = command(
        admin, "reset-password", "give the account a temporary password to change at next login", reset_password
    )
    p.add_argument("login_id")

    p = command(
        admin,
        "scope",
        "show or set what a console account looks after (所掌範囲: departments, PC groups)",
        scope,
    )
    p.add_argument("login_id")
    p.add_argument("--department", action="append", help="a department it looks after (repeat for several)")
    p.add_argument("--host-group", action="append", help="a PC group it looks after (repeat for several)")
    p.add_argument("--clear", action="store_true", help="the whole organisation again")
