"""`jiseki directory …`: the staff list from Active Directory or LDAP (the `[directory]` section).

`sync` runs a synchronisation (or, with `--dry-run`, shows what it would change) and records it as the
console's button does; `test` reads the directory and says what it found, changing nothing. The
live sessions of accounts disabled here are ended by the gateway nodes at their next authority check."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from .common import CommandError
from .context import Context
from .options import command, group

ACTOR = "cli"
SHOWN = 50  # rows listed per kind of change


def _config(ctx: Context) -> Any:
    config = ctx.config.directory
    if not config.enabled:
        raise CommandError("the directory is not enabled: set [directory] enabled = true in the configuration")
    return config


def sync(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki.gateway.directory import sync as directory_sync

    config = _config(ctx)

    async def action(ctx: Context) -> directory_sync.RunResult:
        db = await ctx.db()
        try:
            return await directory_sync.run_sync(db, config, trigger="cli", actor=ACTOR, dry_run=args.dry_run)
        except directory_sync.Busy:
            raise CommandError("another synchronisation is running; try again when it has finished") from None

    result = ctx.run(action)
    if result.state != "done":
        raise CommandError(f"synchronisation failed (run {result.run_id}): {result.error}")
    assert result.plan is not None
    what = "would change" if args.dry_run else "changed"
    print(f"run {result.run_id}: {result.plan.people} entries read; {what}:")
    for kind in ("create", "update", "disable", "enable"):
        changes = result.plan.of(kind)
        print(f"  {kind}: {len(changes)}")
        for change in changes[:SHOWN]:
            fields = ", ".join(f"{k}={v!r}" for k, v in change.after.items())
            print(
                f"    {change.login_id}"
                + (f" ({change.reason})" if change.reason else "")
                + (f" {fields}" if fields else "")
            )
        if len(changes) > SHOWN:
            print(f"    … and {len(changes) - SHOWN} more")
    for note in result.plan.notes:
        print(f"  note: {note.kind} {note.login_id} {note.detail}".rstrip())
    for login_id, msgid in result.refused:
        print(f"  not applied: {login_id}: {msgid}")
    return 0


def test(args: argparse.Namespace, ctx: Context) -> int:
    """Each server (reachable, TLS verified, service account accepted), then what a synchronisation
    would read; changes nothing."""
    from jiseki.gateway.directory.client import fetch_listing, test_connection

    config = _config(ctx)
    checks = ctx.run(lambda _ctx: test_connection(config))
    for check in checks:
        verdict = "ok" if check.reachable and check.tls_ok and check.bind_ok is not False else check.error
        print(f"{check.url}: {verdict} ({check.seconds:.2f} s)")
    if not any(c.reachable and c.tls_ok and c.bind_ok is not False for c in checks):
        raise CommandError("no directory server could be used")
    try:
        listing = ctx.run(lambda _ctx: fetch_listing(config))
    except Exception as exc:
        raise CommandError(f"the directory could not be read: {type(exc).__name__}: {exc}") from None
    states = Counter(p.state.value for p in listing.people)
    roles = Counter(p.role for p in listing.people)
    print(f"staff entries: {len(listing.people)} (from {listing.server})")
    print("  by state: " + ", ".join(f"{k} {n}" for k, n in sorted(states.items())))
    print("  by role: " + ", ".join(f"{k} {n}" for k, n in sorted(roles.items())))
    for dn, why in listing.skipped:
        print(f"  skipped: {dn}: {why}")
    return 0


def register(sub: Any) -> None:
    directory = group(sub, "directory", "staff from Active Directory or LDAP", "directory_command")
    p = command(directory, "sync", "synchronise the staff accounts with the directory", sync)
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    command(directory, "test", "read the directory with the configured settings and count what it holds", test)
