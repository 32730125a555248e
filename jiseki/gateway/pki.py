"""The gateway's internal PKI: a root CA, an issuing CA, the server certificate and client certificates.

Everything lives under `<data_dir>/pki/`; private keys are written with mode 0600. Client
certificates carry EKU clientAuth and a SAN URI `urn:jiseki:<kind>:<id>` that names the
agent or terminal, so identity never rests on the CN alone.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Shared with the agent (jiseki.trust); named here too for the gateway's own modules.
from jiseki.trust.tls import cert_pem as cert_pem
from jiseki.trust.tls import client_ssl_context as client_ssl_context
from jiseki.trust.tls import fingerprint as fingerprint
from jiseki.trust.tls import fingerprint_der as fingerprint_der
from jiseki.trust.tls import key_pem as key_pem
from jiseki.trust.tls import write_private as write_private

ROOT_LIFETIME = dt.timedelta(days=3650)
ISSUING_LIFETIME = dt.timedelta(days=1825)
SERVER_LIFETIME = dt.timedelta(days=397)
IDENTITY_PREFIX = "urn:jiseki:"
CLIENT_KINDS = ("agent", "terminal")
MAX_CSR_BYTES = 16 * 1024
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: expired client certificates pass the handshake so that the
# application can show the "not registered" page and record the attempt; the application checks
# every leaf's validity period itself (see web/guards.py).
_NO_CHECK_TIME = 0x200000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class PKIError(Exception):
    """A PKI problem an operator can fix (wrong passphrase, bad CSR...); the message says what."""


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jiseki"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _ca_cert(
    subject: str | x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    signer: ec.EllipticCurvePrivateKey,
    lifetime: dt.timedelta,
    path_length: int,
    valid: tuple[dt.datetime, dt.datetime] | None = None,
) -> x509.Certificate:
    now = _now()
    not_before, not_after = valid or (now - dt.timedelta(minutes=5), now + lifetime)
    name = _name(subject) if isinstance(subject, str) else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        # Python 3.13's default TLS context (VERIFY_X509_STRICT) refuses a CA certificate below the
        # root without it: the Windows agent's embedded Python does.
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _has_authority_key_id(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return False
    return True


@dataclass(frozen=True)
class IssuedCert:
    key_pem: bytes
    cert_pem: bytes  # leaf followed by the issuing CA
    fingerprint: str
    serial: str
    not_after: dt.datetime
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


class CertificateAuthority:
    """Root + issuing CA loaded from (or created in) `<data_dir>/pki`."""

    def __init__(self, pki_dir: Path, passphrase: bytes | None = None) -> None:
        self.dir = pki_dir
        self._passphrase = passphrase or None
        self.root_cert_path = pki_dir / "root-ca.crt"
        self.issuing_cert_path = pki_dir / "issuing-ca.crt"
        self.server_cert_path = pki_dir / "server.crt"
        self.server_key_path = pki_dir / "server.key"
        if not self.root_cert_path.exists():
            self._create()
        self.root_cert = x509.load_pem_x509_certificate(self.root_cert_path.read_bytes())
        self.issuing_cert = x509.load_pem_x509_certificate(self.issuing_cert_path.read_bytes())
        self._issuing_key = self._load_ca_key(pki_dir / "issuing-ca.key")
        if not _has_authority_key_id(self.issuing_cert):
            self._reissue_issuing_cert()

    def _reissue_issuing_cert(self) -> None:
        """A CA made before version 0.14 has an issuing certificate without an authority key identifier,
        which strict verifiers (Python 3.13's default) refuse. Sign it again: same key, subject and
        validity, so every certificate it issued stays valid; the server certificate, which carries
        the issuing certificate in its chain, is then issued again by `ensure_server_cert`."""
        root_key = self._load_ca_key(self.dir / "root-ca.key")
        old = self.issuing_cert
        self.issuing_cert = _ca_cert(
            old.subject,
            self._issuing_key,
            self.root_cert,
            root_key,
            ISSUING_LIFETIME,
            0,
            valid=(old.not_valid_before_utc, old.not_valid_after_utc),
        )
        self.issuing_cert_path.write_bytes(cert_pem(self.issuing_cert))

    def _load_ca_key(self, path: Path) -> ec.EllipticCurvePrivateKey:
        data = path.read_bytes()
        encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
        if encrypted and not self._passphrase:
            raise PKIError(f"{path} is encrypted: set JISEKI_CA_PASSPHRASE (or gateway.ca_passphrase)")
        try:
            loaded = serialization.load_pem_private_key(data, self._passphrase if encrypted else None)
        except (ValueError, TypeError):
            raise PKIError(f"cannot decrypt {path}: wrong CA passphrase") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise PKIError(f"{path} is not an EC key")
        return loaded

    @property
    def root_fingerprint(self) -> str:
        return fingerprint(self.root_cert)

    def _create(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        root_key, issuing_key = _new_key(), _new_key()
        root = _ca_cert("jiseki Root CA", root_key, None, root_key, ROOT_LIFETIME, 1)
        issuing = _ca_cert("jiseki Issuing CA", issuing_key, root, root_key, ISSUING_LIFETIME, 0)
        write_private(self.dir / "root-ca.key", key_pem(root_key, self._passphrase))
        write_private(self.dir / "issuing-ca.key", key_pem(issuing_key, self._passphrase))
        self.issuing_cert_path.write_bytes(cert_pem(issuing))
        # The root is written last: its presence marks a complete CA.
        self.root_cert_path.write_bytes(cert_pem(root))

    def _leaf(
        self,
        common_name: str,
        public_key: CertificatePublicKeyTypes,
        lifetime: dt.timedelta,
        eku: x509.ObjectIdentifier,
        sans: list[x509.GeneralName],
    ) -> x509.Certificate:
        now = _now()
        return (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.issuing_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._issuing_key.public_key()), critical=False
            )
            .sign(self._issuing_key, hashes.SHA256())
        )

    def ensure_server_cert(self, names: tuple[str, ...]) -> None:
        """(Re)issue the server certificate when missing, expiring within 30 days or for other names."""
        if self.server_cert_path.exists() and self.server_key_path.exists():
            current = x509.load_pem_x509_certificate(self.server_cert_path.read_bytes())
            try:
                san = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                have = {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
                    str(v) for v in san.get_values_for_type(x509.IPAddress)
                }
            except x509.ExtensionNotFound:
                have = set()
            chained = self.server_cert_path.read_bytes().endswith(cert_pem(self.issuing_cert))
            if have == set(names) and chained and current.not_valid_after_utc - _now() > dt.timedelta(days=30):
                return
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        key = _new_key()
        cert = self._leaf(names[0], key.public_key(), SERVER_LIFETIME, ExtendedKeyUsageOID.SERVER_AUTH, sans)
        write_private(self.server_key_path, key_pem(key))
        self.server_cert_path.write_bytes(cert_pem(cert) + cert_pem(self.issuing_cert))

    def sign_client(
        self, kind: str, ident: str, public_key: CertificatePublicKeyTypes, lifetime: dt.timedelta
    ) -> x509.Certificate:
        """A client certificate (EKU clientAuth, SAN urn:jiseki:<kind>:<id>) for a key made elsewhere."""
        if kind not in CLIENT_KINDS:
            raise ValueError(f"unknown client kind {kind!r}")
        return self._leaf(
            f"{kind}:{ident}",
            public_key,
            lifetime,
            ExtendedKeyUsageOID.CLIENT_AUTH,
            [x509.UniformResourceIdentifier(f"{IDENTITY_PREFIX}{kind}:{ident}")],
        )

    def sign_csr(self, kind: str, ident: str, csr_pem: bytes, lifetime: dt.timedelta) -> x509.Certificate:
        """Sign a CSR made where the key lives (terminal or agent). Only its public key is used:
        subject and extensions are ours, whatever the CSR asks for."""
        if len(csr_pem) > MAX_CSR_BYTES:
            raise PKIError("the CSR is too large")
        try:
            csr = x509.load_pem_x509_csr(csr_pem) if b"-----BEGIN" in csr_pem else x509.load_der_x509_csr(csr_pem)
        except ValueError:
            raise PKIError("the file is not a certificate signing request (PEM or DER)") from None
        if not csr.is_signature_valid:
            raise PKIError("the CSR's signature is invalid")
        key = csr.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise PKIError(f"RSA keys must have at least 2048 bits (this one has {key.key_size})")
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
                raise PKIError(f"unsupported elliptic curve {key.curve.name}")
        else:
            raise PKIError("only RSA and ECDSA keys are accepted")
        return self.sign_client(kind, ident, key, lifetime)

    def issue_client_cert(self, kind: str, ident: str, lifetime: dt.timedelta) -> IssuedCert:
        """Make a key here and certify it (the demo's direct path and PKCS#12 bundles)."""
        key = _new_key()
        cert = self.sign_client(kind, ident, key.public_key(), lifetime)
        return IssuedCert(
            key_pem=key_pem(key),
            cert_pem=cert_pem(cert) + cert_pem(self.issuing_cert),
            fingerprint=fingerprint(cert),
            serial=serial_hex(cert),
            not_after=cert.not_valid_after_utc,
            key=key,
            cert=cert,
        )

    def pkcs12(self, issued: IssuedCert, friendly_name: str, password: bytes) -> bytes:
        """A PKCS#12 bundle (key, certificate, issuing and root CA) for import on a Windows terminal.
        AES-256 + SHA-256 (PBES2), which Windows 10 1709 and later import."""
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(100_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password)
        )
        return pkcs12.serialize_key_and_certificates(
            friendly_name.encode(), issued.key, issued.cert, [self.issuing_cert, self.root_cert], encryption
        )

    def server_ssl_context(self) -> ssl.SSLContext:
        """TLS 1.2+; client certificates optional at the handshake (browsers without one still get
        a clear page) but verified against our CA whenever presented."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert_path, self.server_key_path)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.verify_flags |= _NO_CHECK_TIME
        ctx.load_verify_locations(cafile=str(self.root_cert_path))
        ctx.load_verify_locations(cafile=str(self.issuing_cert_path))
        return ctx


def identity_from_der(der: bytes) -> tuple[str, str] | None:
    """(kind, id) from a client certificate's `urn:jiseki:` SAN URI, or None."""
    try:
        return identity_of(x509.load_der_x509_certificate(der))
    except ValueError:
        return None


def identity_of(cert: x509.Certificate) -> tuple[str, str] | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(IDENTITY_PREFIX):
            kind, _, ident = uri[len(IDENTITY_PREFIX) :].partition(":")
            if kind and ident:
                return kind, ident
    return None
