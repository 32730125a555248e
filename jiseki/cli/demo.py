"""`jiseki demo`: a virtual office PC, its agent and a gateway on this machine (`jiseki.demo`). It
writes its own configuration in `--data-dir` and reads none."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import CommandError
from .context import Context
from .options import command


def demo(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.demo import addresses
    from jiseki.demo.run import DemoOptions, run_demo

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


def register(sub: Any) -> None:
    p = command(sub, "demo", "virtual office PC + agent + gateway on this machine", demo)
    p.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where the demo keeps its state")
    p.add_argument("--port", type=int, default=8443, help="gateway HTTPS port (default 8443)")
    p.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every IPv4 address)."
        " From another PC, prefer: ssh -L 8443:127.0.0.1:8443 SERVER",
    )
    p.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name or address other machines use to reach this one, added to the server certificate"
        " (repeatable; with --listen 0.0.0.0 this machine's names and addresses are added anyway)",
    )
    p.add_argument(
        "--install-certificate",
        action="store_true",
        help="import the demo CA and terminal certificate into this user's Chromium (NSS database) and,"
        " when allowed, write a policy that selects it; all removed again when the demo stops",
    )
    p.add_argument(
        "--browser-policy-dir",
        type=Path,
        metavar="DIR",
        help="where --install-certificate writes the Chromium policy (default /etc/chromium/policies/managed;"
        " Google Chrome: /etc/opt/chrome/policies/managed)",
    )
