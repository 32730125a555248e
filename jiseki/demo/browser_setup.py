"""Optional: make this machine's Chromium trust the demo CA and present the demo terminal certificate
(the current user's NSS database, plus an auto-select policy where the demo may write one), and take
all of it away again when the demo stops.

Only what this run added is removed: certificates are found by their exact key id (a PKCS#11 URI,
never a nickname, which NSS shares between certificates of the same subject, e.g. a real jiseki
CA), a policy file that was there before is put back as it was, and only directories this run
made are removed (when empty).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

POLICY_DIR = Path("/etc/chromium/policies/managed")  # Debian's Chromium; Google Chrome: /etc/opt/chrome/...
POLICY_NAME = "jiseki-demo.json"
CA_NICKNAME = "jiseki demo CA"


def default_nssdb() -> Path:
    return Path.home() / ".pki" / "nssdb"


def nss_id(cert: x509.Certificate) -> str:
    """The CKA_ID NSS gives a certificate (and its private key): SHA-1 of the public key's value."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        value = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    elif isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers().n
        value = n.to_bytes((n.bit_length() + 7) // 8, "big")
    else:
        raise ValueError(f"no NSS id for a {type(key).__name__}")
    return hashlib.sha1(value, usedforsecurity=False).hexdigest()


def _uri(cert: x509.Certificate) -> str:
    hexid = nss_id(cert)
    return "pkcs11:id=" + "".join(f"%{hexid[i : i + 2]}" for i in range(0, len(hexid), 2)) + ";type=cert"


def _subject(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


class BrowserSetup:
    """What `jiseki demo --install-certificate` added, so that `undo` removes exactly that."""

    def __init__(self, nssdb: Path | None = None, policy_dir: Path | None = None) -> None:
        self.nssdb = nssdb or default_nssdb()
        self.policy_dir = policy_dir or POLICY_DIR
        self.added_certs: list[x509.Certificate] = []  # by this run, in the order added
        self.added_dirs: list[Path] = []  # policy directories this run made, outermost first
        self.policy_written = False
        self.policy_before: bytes | None = None  # the file this run replaced, to put back
        self.created_db = False  # left in place at the end: Chromium may keep other things in it by then
        self.kept_certs: list[x509.Certificate] = []  # already there before this run (an earlier run's): kept

    @property
    def policy_file(self) -> Path:
        return self.policy_dir / POLICY_NAME

    def _db(self) -> str:
        return f"sql:{self.nssdb}"

    def _has(self, cert: x509.Certificate) -> bool:
        found = subprocess.run(
            ["certutil", "-L", "-d", self._db(), "-n", _uri(cert), "-a"], capture_output=True, text=True
        )
        if found.returncode != 0 or "-----BEGIN CERTIFICATE-----" not in found.stdout:
            return False
        return cert in x509.load_pem_x509_certificates(found.stdout.encode())

    def install(self, root_ca: Path, p12: Path, p12_password: str, origins: list[str]) -> list[str]:
        """Returns what was done, line by line. Raises RuntimeError when NSS tools are missing and
        OSError / CalledProcessError on failure; what was added up to then is recorded for `undo`."""
        if shutil.which("certutil") is None or shutil.which("pk12util") is None:
            raise RuntimeError("certutil/pk12util not found (Debian package libnss3-tools)")
        done = []
        if not (self.nssdb / "cert9.db").exists():
            self.nssdb.mkdir(parents=True, exist_ok=True, mode=0o700)
            subprocess.run(["certutil", "-N", "-d", self._db(), "--empty-password"], check=True)
            self.created_db = True
            done.append(f"created the NSS database {self.nssdb}")
        root = x509.load_pem_x509_certificate(root_ca.read_bytes())
        _key, terminal, chain = pkcs12.load_key_and_certificates(p12.read_bytes(), p12_password.encode())
        if terminal is None:
            raise RuntimeError(f"{p12} holds no certificate")
        wanted = [root, *chain, terminal]
        before = {nss_id(c) for c in wanted if self._has(c)}
        try:
            if nss_id(root) not in before:
                subprocess.run(
                    ["certutil", "-A", "-d", self._db(), "-n", CA_NICKNAME, "-t", "C,,", "-i", str(root_ca)],
                    check=True,
                )
            done.append(f"trusted the demo CA in {self.nssdb}")
            subprocess.run(
                ["pk12util", "-d", self._db(), "-i", str(p12), "-W", p12_password], check=True, capture_output=True
            )
            done.append(f"imported the demo terminal certificate into {self.nssdb}")
        finally:
            seen: set[str] = set()
            for cert in wanted:
                ident = nss_id(cert)
                if ident in seen:
                    continue
                seen.add(ident)
                if ident in before:
                    self.kept_certs.append(cert)
                elif self._has(cert):
                    self.added_certs.append(cert)
        done.append(self._write_policy(origins))
        return done

    def _write_policy(self, origins: list[str]) -> str:
        rules = [json.dumps({"pattern": o, "filter": {"ISSUER": {"CN": "jiseki Issuing CA"}}}) for o in origins]
        data = json.dumps({"AutoSelectCertificateForUrls": rules}, indent=1).encode()
        try:
            missing = []
            for d in (self.policy_dir, *self.policy_dir.parents):
                if d.exists():
                    break
                missing.append(d)
            for d in reversed(missing):
                d.mkdir(mode=0o755)
                os.chmod(d, 0o755)  # noqa: S103 -- browsers running as other users read policies (umask 077)
                self.added_dirs.append(d)
            if self.policy_file.exists():
                self.policy_before = self.policy_file.read_bytes()
            self.policy_written = True
            self.policy_file.write_bytes(data)
            os.chmod(self.policy_file, 0o644)
        except PermissionError:
            return f"Chromium will ask which certificate to present (no permission to write {self.policy_file})"
        return f"Chromium selects the certificate for {', '.join(origins)} by itself ({self.policy_file})"

    def undo(self) -> list[str]:
        """Remove what `install` added (best effort, each step on its own); returns what was done."""
        done = []
        removed = []
        for cert in reversed(self.added_certs):
            # A certificate with its private key (the terminal's): -F removes both; a CA: -D.
            subprocess.run(["certutil", "-F", "-d", self._db(), "-k", nss_id(cert)], capture_output=True)
            if self._has(cert):
                subprocess.run(["certutil", "-D", "-d", self._db(), "-n", _uri(cert)], capture_output=True)
            if self._has(cert):
                done.append(f"could not remove {_subject(cert)!r} from {self.nssdb}; remove it in Chromium's settings")
            else:
                removed.append(_subject(cert))
        if removed:
            done.append(f"removed from {self.nssdb}: {', '.join(removed)}")
        if self.kept_certs:
            done.append(
                f"left in {self.nssdb} as they were before this run (an earlier demo's?):"
                f" {', '.join(_subject(c) for c in self.kept_certs)}; Chromium's certificate settings can delete them"
            )
        self.added_certs, self.kept_certs = [], []
        if self.policy_written:
            try:
                if self.policy_before is not None:
                    self.policy_file.write_bytes(self.policy_before)
                    done.append(f"put back the Chromium policy {self.policy_file} as it was before the demo")
                else:
                    self.policy_file.unlink(missing_ok=True)
                    done.append(f"removed the Chromium policy {self.policy_file}")
            except OSError as exc:
                done.append(f"could not restore {self.policy_file}: {exc.strerror}")
            self.policy_written = False
        for d in reversed(self.added_dirs):
            try:
                d.rmdir()
                done.append(f"removed the directory {d}")
            except OSError:
                break  # not empty: something else was put there since; leave it and its parents
        self.added_dirs = []
        return done
