"""The internal CA: key file modes, certificate profiles, identities."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
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


def _strict_client_context(ca: CertificateAuthority) -> ssl.SSLContext:
    """What Python 3.13's `ssl.create_default_context()` does on the Windows agent: strict X.509."""
    context = ssl.create_default_context(cafile=str(ca.root_cert_path))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


async def _handshake(ca: CertificateAuthority, server: ssl.SSLContext) -> None:
    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_strict_client_context(ca))
        writer.close()
    finally:
        listener.close()
        await listener.wait_closed()


def _without_authority_key_id(cert: x509.Certificate, signer: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """The issuing certificate as versions before 0.14 wrote it."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        if not isinstance(ext.value, x509.AuthorityKeyIdentifier):
            builder = builder.add_extension(ext.value, ext.critical)
    return builder.sign(signer, hashes.SHA256())


async def test_a_strict_verifier_accepts_the_gateway_chain(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.ensure_server_cert(("127.0.0.1",))
    await _handshake(ca, ca.server_ssl_context())


async def test_an_old_issuing_certificate_is_signed_again_and_the_chain_passes(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    ca = CertificateAuthority(pki)
    ca.ensure_server_cert(("127.0.0.1",))
    issued = ca.issue_client_cert("agent", "pc-1", dt.timedelta(days=30))
    root_key = serialization.load_pem_private_key((pki / "root-ca.key").read_bytes(), None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    old = ca.issuing_cert
    legacy = _without_authority_key_id(old, root_key)
    (pki / "issuing-ca.crt").write_bytes(legacy.public_bytes(Encoding.PEM))
    leaf = (pki / "server.crt").read_bytes().split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
    legacy_chain = tmp_path / "legacy-chain.pem"
    legacy_chain.write_bytes(leaf + legacy.public_bytes(Encoding.PEM))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(legacy_chain, pki / "server.key")
    with pytest.raises(ssl.SSLCertVerificationError, match="Authority Key Identifier"):
        await _handshake(ca, server)  # the premise: strict verification refuses the old chain

    again = CertificateAuthority(pki)  # loading the CA signs the issuing certificate again
    assert again.issuing_cert.subject == old.subject and again.issuing_cert.public_key() == old.public_key()
    assert again.issuing_cert.not_valid_after_utc == old.not_valid_after_utc
    again.ensure_server_cert(("127.0.0.1",))  # the chain it serves carries the new issuing certificate
    await _handshake(again, again.server_ssl_context())
    # What the old issuing certificate signed still verifies: same key.
    public = again.issuing_cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(issued.cert.signature, issued.cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
