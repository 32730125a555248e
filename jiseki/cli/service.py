"""`jiseki agent service` (the Windows service's entry, registered by the MSI) and `jiseki agent
worker` (started by the service in the console session; not for people).

Like the rest of `jiseki agent`, loads nothing of the gateway."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .common import CommandError, until_signalled
from .context import Context
from .options import command


def _paths(args: argparse.Namespace) -> Any:
    from jiseki.agent.service.main import ServicePaths

    return ServicePaths(args.data_dir) if args.data_dir is not None else ServicePaths.default()


def service(args: argparse.Namespace, ctx: Context) -> int:
    if sys.platform != "win32":
        raise CommandError("`jiseki agent service` is the Windows service; on Linux run `jiseki agent`")
    from jiseki.agent.backends import service_platform

    platform = service_platform()
    paths = _paths(args)
    if args.cleanup:
        return int(platform.cleanup(paths))
    platform.prepare(paths, args.verbose)
    agent_service = platform.make_service(paths, args.console, ctx.config_path, args.verbose)
    if args.console:

        async def stop() -> None:
            agent_service.request_stop()

        asyncio.run(until_signalled(agent_service.run(), stop))
        return 0
    try:
        platform.run_under_scm(agent_service)
    except OSError as exc:  # NotStartedBySCM among them: started from a console without --console
        raise CommandError(str(exc)) from None
    return 0


def worker(args: argparse.Namespace, ctx: Context) -> int:
    from dataclasses import replace

    from jiseki.agent.service import worker as w
    from jiseki.protocol import ProtocolError

    paths = _paths(args)
    config = ctx.config.agent
    if sys.platform == "win32":
        from jiseki.agent.backends import service_platform
        from jiseki.agent.service.main import setup_logging

        setup_logging(paths, "worker", args.verbose, service_platform().event_log())
        config = replace(config, cert_dir=paths.cert_dir)
    if args.gateway_url:
        config = replace(config, gateway_url=args.gateway_url.rstrip("/"))
    if args.proxy_url:
        config = replace(config, proxy_url=args.proxy_url)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the link's lines may reach the service's pipe
    out = w.LinkOut(stdout)
    # Everything that does not depend on the offer first: the service starts a worker ahead of the
    # next session (a spare), so that an offer finds it ready.
    agent = _worker_agent(config, out)
    from jiseki.agent.encode.codecs import warm_up

    warm_up()
    try:
        offer = w.read_offer(stdin)
    except ProtocolError as exc:
        raise CommandError(f"worker: {exc}") from None
    code = asyncio.run(w.serve(agent, offer, stdin))
    # Ended here, without the interpreter's finalization: window threads and ctypes callbacks that
    # are still alive then can crash it (seen under Wine), and the service reads a crash as a failure.
    logging.shutdown()
    os._exit(code)


def _worker_agent(config: Any, out: Any) -> Any:
    from jiseki.agent.backends import choose_backends
    from jiseki.agent.service import worker as w

    b = choose_backends(config)
    return w.worker_agent(config, out, b.make_desktops(), b.make_capture, b.make_worker_input, b.host, b.make_clipboard)


def register(commands: Any) -> None:
    p = command(commands, "service", "run as the Windows service (installed by the MSI)", service)
    p.add_argument("--console", action="store_true", help="run in the foreground instead (troubleshooting)")
    p.add_argument("--cleanup", action="store_true", help="delete the enrollment, logs and settings (uninstall)")
    p.add_argument("--data-dir", type=Path, help="default: %%ProgramData%%\\jiseki")
    p = command(commands, "worker", "one session in the console session (started by the service)", worker)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--gateway-url", default="")
    p.add_argument("--proxy-url", default="")
