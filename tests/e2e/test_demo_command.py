"""`jiseki demo` as a user runs it: prints a working URL; Ctrl+C leaves no process behind."""

from __future__ import annotations

import json
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
