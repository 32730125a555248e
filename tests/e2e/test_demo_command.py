"""`jiseki demo` as a user runs it: prints a working URL; Ctrl+C leaves no process behind."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import time
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
    while time.monotonic() < deadline and url is None:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"(https://127\.0\.0\.1:\d+/view/\S+\?token=\S+)", line)
        if match:
            url = match.group(1)
    assert url is not None, "".join(lines)
    children = psutil.Process(proc.pid).children(recursive=True)
    names = {c.name() for c in children}
    assert {"Xvfb", "openbox", "xterm"} <= names, names
    # The printed URL works: the token is accepted and moved into a cookie.
    ctx = ssl.create_default_context(cafile=str(tmp_path / "demo" / "gateway" / "pki" / "root-ca.crt"))

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(url, timeout=10)
    assert redirect.value.code == 303

    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"left running: {[p.name() for p in alive]}"
