"""`jiseki demo` as a user runs it: prints a working URL; Ctrl+C leaves no process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port

from .conftest import needs_desktop

pytestmark = [pytest.mark.e2e, needs_desktop]


def test_demo_prints_url_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jiseki", "demo", "--data-dir", str(tmp_path / "demo"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = None
    deadline = time.monotonic() + 60
    lines = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"Open in Chromium:\s+(https://127\.0\.0\.1:\d+/)", line)
        if match:
            url = match.group(1)
        if "Ctrl+C" in line:
            break
    assert url is not None, "".join(lines)
    children = psutil.Process(proc.pid).children(recursive=True)
    names = {c.name() for c in children}
    assert {"Xvfb", "openbox", "xterm"} <= names, names
    # The printed URL works for the registered terminal only.
    demo = tmp_path / "demo"
    creds = json.loads((demo / "credentials.json").read_text())
    ca = str(demo / "gateway" / "pki" / "root-ca.crt")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url + "login", context=ssl.create_default_context(cafile=ca), timeout=10)
    assert refused.value.code == 403
    terminal = ssl.create_default_context(cafile=ca)
    terminal.load_cert_chain(creds["terminal_cert"], creds["terminal_key"])
    with urllib.request.urlopen(url + "login", context=terminal, timeout=10) as page:
        assert page.status == 200 and "ログイン" in page.read().decode()
    assert any(f"Password:           {creds['password']}" in line for line in lines)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"left running: {[p.name() for p in alive]}"


def _nss_listing(nssdb: Path) -> tuple[str, str]:
    certs = subprocess.run(["certutil", "-L", "-d", f"sql:{nssdb}"], capture_output=True, text=True, check=True)
    keys = subprocess.run(["certutil", "-K", "-d", f"sql:{nssdb}"], capture_output=True, text=True)
    return certs.stdout, keys.stdout if keys.returncode == 0 else ""


def _demo_bundle(root: Path) -> tuple[Path, Path, str]:
    import datetime as dt

    from jiseki.gateway.pki import CertificateAuthority

    ca = CertificateAuthority(root / "pki")
    issued = ca.issue_client_cert("terminal", "demo-terminal", dt.timedelta(days=1))
    (root / "terminal.p12").write_bytes(ca.pkcs12(issued, "jiseki demo terminal", b"pw-1234"))
    return ca.root_cert_path, root / "terminal.p12", "pw-1234"


def _demo_bundle_from(root: Path) -> tuple[Path, str]:
    """A new terminal certificate from the same demo CA (as the next start of the demo issues)."""
    import datetime as dt

    from jiseki.gateway.pki import CertificateAuthority

    ca = CertificateAuthority(root / "pki")
    issued = ca.issue_client_cert("terminal", "demo-terminal", dt.timedelta(days=1))
    (root / "terminal-2.p12").write_bytes(ca.pkcs12(issued, "jiseki demo terminal", b"pw-5678"))
    return root / "terminal-2.p12", "pw-5678"


def test_browser_setup_takes_away_only_what_it_added(tmp_path: Path) -> None:
    from jiseki.demo.browser_setup import BrowserSetup

    # Before the demo: this user already trusts a real jiseki CA (same subject as the demo's: NSS
    # files both under one nickname), and an administrator left a policy file of the demo's name.
    nssdb = tmp_path / "nssdb"
    nssdb.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    office_root, _p12, _pw = _demo_bundle(tmp_path / "office")
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "office CA", "-t", "C,,", "-i", str(office_root)], check=True
    )
    policies = tmp_path / "etc" / "chromium" / "policies" / "managed"
    (tmp_path / "etc").mkdir()
    before = _nss_listing(nssdb)

    root_ca, p12, password = _demo_bundle(tmp_path / "demo")
    setup = BrowserSetup(nssdb=nssdb, policy_dir=policies)
    lines = setup.install(root_ca, p12, password, ["https://127.0.0.1:8443"])
    assert any("trusted the demo CA" in line for line in lines), lines
    assert "jiseki demo terminal" in _nss_listing(nssdb)[1]
    policy = json.loads((policies / "jiseki-demo.json").read_text())
    assert "https://127.0.0.1:8443" in policy["AutoSelectCertificateForUrls"][0]
    assert oct((policies / "jiseki-demo.json").stat().st_mode & 0o777) == "0o644"

    cleaned = setup.undo()
    assert _nss_listing(nssdb) == before, cleaned
    assert not (tmp_path / "etc" / "chromium").exists(), "the directories the demo made stay"
    assert any("removed the Chromium policy" in line for line in cleaned), cleaned
    assert setup.undo() == []  # once only

    # A policy file that was there before is put back as it was.
    policies.mkdir(parents=True)
    (policies / "jiseki-demo.json").write_text('{"mine": true}')
    (policies / "other.json").write_text("{}")
    setup = BrowserSetup(nssdb=nssdb, policy_dir=policies)
    setup.install(root_ca, p12, password, ["https://127.0.0.1:8443"])
    assert "AutoSelectCertificateForUrls" in (policies / "jiseki-demo.json").read_text()
    cleaned = setup.undo()
    assert (policies / "jiseki-demo.json").read_text() == '{"mine": true}'
    assert (policies / "other.json").exists()
    assert _nss_listing(nssdb) == before, cleaned

    # An earlier run that could not clean up (killed) left the demo CA: this run keeps it and says so.
    crashed = BrowserSetup(nssdb=nssdb, policy_dir=policies)
    crashed.install(root_ca, p12, password, ["https://127.0.0.1:8443"])
    setup = BrowserSetup(nssdb=nssdb, policy_dir=policies)
    setup.install(root_ca, *_demo_bundle_from(tmp_path / "demo"), ["https://127.0.0.1:8443"])
    cleaned = setup.undo()
    assert any("left in" in line and "jiseki Root CA" in line for line in cleaned), cleaned
    crashed.undo()
    assert _nss_listing(nssdb) == before


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_takes_its_browser_setup_away_when_stopped(tmp_path: Path, stop: signal.Signals) -> None:
    home = tmp_path / "home"
    home.mkdir()
    policies = tmp_path / "etc" / "chromium" / "policies" / "managed"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "jiseki", "demo", "--install-certificate"),
            *("--data-dir", str(tmp_path / "demo"), "--port", str(free_port())),
            *("--browser-policy-dir", str(policies)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("Ctrl+C" in line for line in lines):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    nssdb = home / ".pki" / "nssdb"
    assert "jiseki demo terminal" in _nss_listing(nssdb)[1], "".join(lines)
    assert (policies / "jiseki-demo.json").exists()

    proc.send_signal(stop)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    certs, keys = _nss_listing(nssdb)
    assert "jiseki" not in certs and "jiseki" not in keys, certs + keys
    assert not (tmp_path / "etc" / "chromium").exists()
    assert "removed the Chromium policy" in out and "removed from" in out, out
    assert "left in place" in out, out  # says what stays: the data directory and the NSS database it created


def test_demo_listens_where_asked_and_its_certificate_names_that_address(tmp_path: Path) -> None:
    # 127.0.0.2: another address than the default that is still this machine's only.
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "jiseki", "demo", "--listen", "127.0.0.2", "--port", str(port)),
            *("--data-dir", str(tmp_path / "demo")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("agent demo-pc online" in line for line in lines):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    try:
        text = "".join(lines)
        assert f"Open in Chromium:   https://127.0.0.2:{port}/" in text, text
        assert "agent demo-pc online" in text, text  # the agent found the gateway on that address
        assert "WARNING" not in text  # loopback: nothing to warn about
        demo = tmp_path / "demo"
        creds = json.loads((demo / "credentials.json").read_text())
        terminal = ssl.create_default_context(cafile=str(demo / "gateway" / "pki" / "root-ca.crt"))
        terminal.load_cert_chain(creds["terminal_cert"], creds["terminal_key"])
        # The default context checks the certificate's names against the address in the URL.
        with urllib.request.urlopen(f"https://127.0.0.2:{port}/login", context=terminal, timeout=10) as page:
            assert page.status == 200
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=terminal, timeout=10)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
