"""`jiseki terminal …`: register telework terminals (a PKCS#12 bundle or a CSR made on the terminal)
and revoke them, through `jiseki.gateway.admin`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from .admin import ACTOR
from .common import CommandError, read_input
from .context import Context
from .options import command, group

T = TypeVar("T")


def _run_hinting_reissue(ctx: Context, action: Callable[[Context], Awaitable[T]]) -> T:
    from jiseki.gateway.admin import AdminError

    try:
        return ctx.run(action)
    except AdminError as exc:
        if "already exists" in str(exc):
            raise CommandError(f"{exc} Add --reissue to give it a new certificate.") from None
        raise


def add(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin
    from jiseki.trust.tls import write_private

    async def action(ctx: Context) -> tuple[bytes, str]:
        async with ctx.transaction() as s:
            bundle = await admin.issue_terminal_pkcs12(
                s,
                ctx.ca,
                args.terminal_id,
                args.name or args.terminal_id,
                ctx.terminal_lifetime,
                ACTOR,
                reissue=args.reissue,
            )
            return bundle.p12, bundle.password

    p12, password = _run_hinting_reissue(ctx, action)
    write_private(args.out, p12)
    print(f"terminal {args.terminal_id}: PKCS#12 written to {args.out} (mode 0600)")
    print(f"one-time import password: {password}")
    print("Import it on the terminal (certmgr / double-click, 'current user'), then delete the file.")
    return 0


def sign(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    csr = read_input(args.csr)

    async def action(ctx: Context) -> bytes:
        async with ctx.transaction() as s:
            return await admin.issue_terminal_csr(
                s,
                ctx.ca,
                args.terminal_id,
                args.name or args.terminal_id,
                csr,
                ctx.terminal_lifetime,
                ACTOR,
                reissue=args.reissue,
            )

    args.out.write_bytes(_run_hinting_reissue(ctx, action))
    print(f"terminal {args.terminal_id}: certificate written to {args.out}")
    return 0


def revoke(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway import admin

    ctx.write(lambda s: admin.revoke_terminal(s, args.terminal_id, args.reason, ACTOR))
    print(f"terminal {args.terminal_id}: revoked")
    return 0


def register(sub: Any) -> None:
    terminal = group(sub, "terminal", "registered telework terminals", "terminal_command")

    p = command(terminal, "add", "register a terminal and write a one-time PKCS#12 bundle", add)
    p.add_argument("terminal_id")
    p.add_argument("--name")
    p.add_argument("--out", type=Path, required=True, help="the .p12 file to write")
    p.add_argument("--reissue", action="store_true", help="a new certificate for a registered terminal")

    p = command(terminal, "sign", "register a terminal from a CSR made on it", sign)
    p.add_argument("terminal_id")
    p.add_argument("--name")
    p.add_argument("--csr", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="the certificate (PEM chain) to write")
    p.add_argument("--reissue", action="store_true", help="a new certificate for a registered terminal")

    p = command(terminal, "revoke", "revoke a terminal's certificate", revoke)
    p.add_argument("terminal_id")
    p.add_argument("--reason", default="revoked by administrator")
