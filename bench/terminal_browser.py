"""A Chromium that holds the terminal's certificate the way a registered terminal does.

Playwright's `client_certificates` option works through a TLS proxy inside Playwright, and
`ignore_https_errors` makes Chromium fail each new connection's handshake once (the gateway's CA is
unknown to it) and retry it: over a shaped link both cost round trips a real terminal never pays,
on every new WebSocket. For timing, the benchmark gives Chromium what a terminal has instead: an NSS
database (in a throwaway HOME) holding the terminal's key and certificate and trusting the
gateway's root CA, and the managed policy `AutoSelectCertificateForUrls`, so that the certificate is
presented without a prompt. The policy file is Chromium's system-wide managed policy folder, so this
needs root; without it the benchmark falls back to Playwright's options and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLICY_DIR = Path("/etc/chromium/policies/managed")
POLICY_FILE = POLICY_DIR / "jiseki-bench.json"


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def nss_home(workdir: Path, cert: Path, key: Path, root_ca: Path) -> Path:
    """A HOME whose NSS database holds the terminal's identity and trusts the gateway's root."""
    home = workdir / "terminal-home"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    _run("certutil", "-N", "-d", f"sql:{db}", "--empty-password")
    p12 = workdir / "terminal-bench.p12"
    _run("openssl", "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-out", str(p12), "-passout", "pass:b")
    _run("pk12util", "-i", str(p12), "-d", f"sql:{db}", "-W", "b")
    _run("certutil", "-A", "-d", f"sql:{db}", "-n", "jiseki-root", "-t", "C,,", "-i", str(root_ca))
    p12.unlink()
    return home


@contextmanager
def certificate_policy(pattern: str = "https://127.0.0.1:*") -> Iterator[bool]:
    """Chromium presents the certificate it holds to `pattern` without asking, while inside; False
    when the policy cannot be written (not root)."""
    try:
        POLICY_DIR.mkdir(parents=True, exist_ok=True)
        rule = json.dumps({"pattern": pattern, "filter": {}})
        POLICY_FILE.write_text(json.dumps({"AutoSelectCertificateForUrls": [rule]}), "utf-8")
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        POLICY_FILE.unlink(missing_ok=True)


def tools_present() -> bool:
    return all(
        any((Path(d) / tool).exists() for d in os.environ.get("PATH", "").split(os.pathsep))
        for tool in ("certutil", "pk12util", "openssl")
    )
