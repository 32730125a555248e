"""`jiseki agent selftest`: what an IT department runs on a desk PC before roll-out (docs/selftest.md).

Like the rest of `jiseki agent`, loads nothing of the gateway: the platform's backends come from
`jiseki.agent.backends`, imported in the handler."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .context import Context
from .options import command

CHECKS = ("capture", "picture", "input", "clipboard", "curtain", "gateway", "service", "lock")  # checks.CHECK_ORDER
MAX_SECONDS = 60.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.1 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be between 0.1 and {MAX_SECONDS:g} seconds, not {text}")
    return value


def selftest(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.agent.backends import choose_backends
    from jiseki.agent.selftest.checks import CheckResult, exit_status
    from jiseki.agent.selftest.report import header, render_json, result_lines, summary
    from jiseki.agent.selftest.run import SelftestOptions, run_selftest

    if args.output is not None and not args.output.resolve().parent.is_dir():
        print(f"jiseki: --output: no such folder: {args.output.resolve().parent}", file=sys.stderr)
        return 2  # said before the checks run (the curtain and the clipboard are touched)
    config = ctx.config.agent
    if ctx.config_path is None and sys.platform == "win32":  # the PC the MSI set up: its gateway
        from jiseki.agent.backends import service_platform

        config = service_platform().installed_config()
    backends = choose_backends(config)
    options = SelftestOptions(skip=frozenset(args.skip), lock=args.lock, seconds=args.seconds)

    def show(result: CheckResult) -> None:
        if not args.json:  # each line as soon as its check is done: some take seconds
            print("\n".join(result_lines(result)), flush=True)

    if not args.json:
        print(header(backends.platform), flush=True)
    results = run_selftest(backends, config, options, show)
    print(render_json(results, backends.platform) if args.json else summary(results), flush=True)
    sys.stdout.flush()
    if args.output is not None:
        # The record IT keeps of each PC it checked: always JSON, whatever was printed.
        try:
            args.output.write_text(render_json(results, backends.platform) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"jiseki: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return exit_status(results)


def register(commands: Any) -> None:
    p = command(commands, "selftest", "check capture, input, clipboard, curtain and the gateway on this PC", selftest)
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=CHECKS,
        metavar="CHECK",
        help=f"leave a check out (repeatable): {', '.join(CHECKS)}",
    )
    p.add_argument("--lock", action="store_true", help="also lock the PC and check that it reports locked")
    p.add_argument("--json", action="store_true", help="print the results as JSON (for automation)")
    p.add_argument("--output", type=Path, help="also write the results as JSON to this file (a record of the PC)")
    p.add_argument("--seconds", type=_seconds, default=2.0, help="how long to measure the capture's frame rate")
