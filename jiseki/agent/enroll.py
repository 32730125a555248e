"""`jiseki agent enroll`: obtain this office PC's certificate with a one-time token.

The key is made here and never leaves the PC. The token carries the SHA-256 of the gateway's
root CA: the CA fetched from the gateway must match it before anything is sent, and from then on
the agent trusts only that CA.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jiseki.trust.tls import key_pem, write_private
from jiseki.trust.tokens import EnrollmentError, parse_token

TIMEOUT = aiohttp.ClientTimeout(total=30)


class EnrollFailed(Exception):
    """Enrollment did not happen; the message tells the administrator why. `retry`: the gateway could
    not be reached (the same token may work later); otherwise it refused or answered nonsense."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


def _make_csr(key: ec.EllipticCurvePrivateKey) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jiseki agent")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


async def _fetch_ca(http: aiohttp.ClientSession, url: str, proxy: str | None) -> bytes:
    # Not verified by TLS on purpose: this is the trust-on-first-use step, and the pin decides.
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    async with http.get(f"{url}/enroll/ca.pem", ssl=insecure, proxy=proxy) as r:
        if r.status != 200:
            raise EnrollFailed(f"the gateway did not return its CA certificate (HTTP {r.status})")
        return await r.content.read(64 * 1024)


def enroll(gateway_url: str, token: str, cert_dir: Path, proxy_url: str = "") -> str:
    """Enroll and write agent.key, agent.crt and ca.crt to `cert_dir`; returns the host id.
    `proxy_url`: an HTTP proxy that allows CONNECT to the gateway (empty: direct)."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_pem, chain, host_id = asyncio.run(_exchange(gateway_url, token, key, proxy_url or None))
    cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (cert_dir / "ca.crt").write_bytes(ca_pem)
    write_private(cert_dir / "agent.key", key_pem(key))
    write_private(cert_dir / "agent.crt", chain)
    return host_id


async def _exchange(
    gateway_url: str, token: str, key: ec.EllipticCurvePrivateKey, proxy: str | None = None
) -> tuple[bytes, bytes, str]:
    """(root CA PEM, certificate chain PEM, host id) from the gateway, after checking the pin."""
    try:
        parsed = parse_token(token)
    except EnrollmentError as exc:
        raise EnrollFailed(str(exc)) from None
    url = gateway_url.rstrip("/")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        try:
            ca_pem = await _fetch_ca(http, url, proxy)
            try:
                ca_der = x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER)
            except ValueError:
                raise EnrollFailed("the gateway sent something that is not a CA certificate") from None
            actual = hashlib.sha256(ca_der).hexdigest()
            if actual != parsed.ca_pin:
                raise EnrollFailed(
                    "the gateway's CA does not match the token (possible impostor or wrong address): "
                    f"expected {parsed.ca_pin[:16]}…, got {actual[:16]}…"
                )
            verified = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem.decode())
            body = {"token": token.strip(), "csr": _make_csr(key).decode()}
            async with http.post(f"{url}/enroll", json=body, ssl=verified, proxy=proxy) as r:
                answer = await r.json(content_type=None)
                if r.status != 201:
                    message = answer.get("message") if isinstance(answer, dict) else None
                    raise EnrollFailed(f"the gateway refused: {message or f'HTTP {r.status}'}")
        except (aiohttp.ClientError, OSError) as exc:
            raise EnrollFailed(f"cannot reach the gateway at {url}: {exc}", retry=True) from None
    chain = answer.get("certificate", "").encode()
    try:
        leaf = x509.load_pem_x509_certificate(chain)
    except ValueError:
        raise EnrollFailed("the gateway's answer holds no certificate") from None
    if leaf.public_key() != key.public_key():
        raise EnrollFailed("the certificate does not belong to the key made here")
    return ca_pem, chain, str(answer.get("host_id"))
