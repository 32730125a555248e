"""`jiseki agent package --windows`: build the MSI that installs the agent on Windows 10/11 x64 PCs
(docs/windows.md). Runs on the Linux machine (wixl, msitools, PyPI); loads nothing of the gateway."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .common import CommandError
from .context import Context
from .options import command


def package(args: argparse.Namespace, ctx: Context) -> int:
    from jiseki import __version__
    from jiseki.packaging import windows_msi

    version = args.version or __version__
    out: Path = args.out if args.out is not None else Path(windows_msi.default_output_name(version))
    if out.is_dir():
        out = out / windows_msi.default_output_name(version)
    work = args.work_dir if args.work_dir is not None else Path(tempfile.mkdtemp(prefix="jiseki-msi-"))
    options = windows_msi.BuildOptions(out=out, version=version, work_dir=work, constraint=args.constraint)
    try:
        result = windows_msi.build(options, log=print)
    except windows_msi.BuildError as exc:
        raise CommandError(f"agent package: {exc}") from None
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"{result.path}: {result.size / 1e6:.1f} MB, {result.files} files, version {version},"
        f" built in {result.seconds['total']:.0f} s"
    )
    # The same for every build of this version: what `msiexec /x` and a startup script's check name.
    print(f"ProductCode {result.product_code} (msiexec /x {result.product_code} /qn uninstalls this version)")
    return 0


def register(commands: Any) -> None:
    p = command(commands, "package", "build the agent's installer (an MSI for Windows 10/11 x64)", package)
    p.add_argument("--windows", action="store_true", required=True, help="an MSI for Windows x64 (the only target)")
    p.add_argument("--out", type=Path, help="the MSI to write (default: jiseki-agent-<version>-x64.msi here)")
    p.add_argument("--constraint", type=Path, help="a pip constraints file for the Windows wheels (e.g. numpy==2.1.3)")
    p.add_argument("--version", help="the MSI's version, major.minor.build (default: jiseki's)")
    p.add_argument("--work-dir", type=Path, help="keep the staging folder here (default: a temporary one, removed)")
