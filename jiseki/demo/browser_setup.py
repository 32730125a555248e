"""Optional: make this machine's Chromium trust the demo CA and present the demo terminal
certificate (NSS database of the current user, plus an auto-select policy when run as root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

POLICY_DIR = Path("/etc/chromium/policies/managed")
POLICY_FILE = POLICY_DIR / "jiseki-demo.json"


def install(root_ca: Path, p12: Path, p12_password: str, origin: str) -> list[str]:
    """Returns what was done, line by line; raises RuntimeError when NSS tools are missing."""
    if shutil.which("certutil") is None or shutil.which("pk12util") is None:
        raise RuntimeError("certutil/pk12util not found (Debian package libnss3-tools)")
    nssdb = Path.home() / ".pki" / "nssdb"
    done = []
    if not (nssdb / "cert9.db").exists():
        nssdb.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-D", "-d", f"sql:{nssdb}", "-n", "jiseki demo CA"], capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "jiseki demo CA", "-t", "C,,", "-i", str(root_ca)], check=True
    )
    done.append(f"trusted the demo CA in {nssdb}")
    subprocess.run(
        ["pk12util", "-d", f"sql:{nssdb}", "-i", str(p12), "-W", p12_password], check=True, capture_output=True
    )
    done.append(f"imported the demo terminal certificate into {nssdb}")
    if os.geteuid() == 0:
        POLICY_DIR.mkdir(parents=True, exist_ok=True)
        rule = json.dumps({"pattern": origin, "filter": {"ISSUER": {"CN": "jiseki Issuing CA"}}})
        POLICY_FILE.write_text(json.dumps({"AutoSelectCertificateForUrls": [rule]}, indent=1), "utf-8")
        done.append(f"Chromium selects the certificate for {origin} by itself ({POLICY_FILE})")
    return done
