"""The internal CA: key file modes, certificate profiles, identities."""

from __future__ import annotations

import datetime as dt
import ssl
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from jiseki.gateway.pki import CertificateAuthority, fingerprint, identity_from_der


def test_ca_created_once_with_private_keys_0600(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.ensure_server_cert(("localhost", "127.0.0.1"))
    for name in ("root-ca.key", "issuing-ca.key", "server.key"):
        mode = stat.S_IMODE((tmp_path / "pki" / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    again = CertificateAuthority(tmp_path / "pki")
    assert again.root_fingerprint == ca.root_fingerprint  # loaded, not re-created


def test_server_certificate_names_and_reissue(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.ensure_server_cert(("localhost", "127.0.0.1"))
    first = ca.server_cert_path.read_bytes()
    ca.ensure_server_cert(("localhost", "127.0.0.1"))
    assert ca.server_cert_path.read_bytes() == first  # unchanged names: kept
    ca.ensure_server_cert(("gw.example.lg.jp",))
    cert = x509.load_pem_x509_certificate(ca.server_cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gw.example.lg.jp"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_client_certificate_profile(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    issued = ca.issue_client_cert("agent", "pc-0001", dt.timedelta(days=30))
    leaf = x509.load_pem_x509_certificates(issued.cert_pem)[0]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert fingerprint(leaf) == issued.fingerprint
    assert identity_from_der(leaf.public_bytes(Encoding.DER)) == ("agent", "pc-0001")
    assert leaf.issuer == ca.issuing_cert.subject
    assert dt.timedelta(days=29) < leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)


def test_server_context_requires_tls12(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.ensure_server_cert(("localhost",))
    ctx = ca.server_ssl_context()
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_OPTIONAL


def test_identity_of_garbage_is_none() -> None:
    assert identity_from_der(b"not a certificate") is None
