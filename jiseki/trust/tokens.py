"""One-time agent enrollment tokens: the format both sides read.

A token reads `jsk1.<secret>.<pin>`: the secret (stored by the gateway only as SHA-256) proves the
administrator's consent, the pin is the SHA-256 of the gateway's root CA so the agent trusts nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

PREFIX = "jsk1"
MAX_TOKEN_LENGTH = 200


class EnrollmentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ParsedToken:
    secret: str
    ca_pin: str  # hex SHA-256 of the root CA certificate (DER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(ca_fingerprint_hex: str) -> tuple[str, str]:
    """(token for the admin, its id for the database)."""
    secret = _b64(secrets.token_bytes(24))
    token = f"{PREFIX}.{secret}.{_b64(bytes.fromhex(ca_fingerprint_hex))}"
    return token, token_id(secret)


def token_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> ParsedToken:
    token = token.strip()
    parts = token.split(".")
    if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3 or parts[0] != PREFIX:
        raise EnrollmentError("invalid_token", "this is not a jiseki enrollment token (it starts with 'jsk1.')")
    try:
        secret_bytes, pin = _unb64(parts[1]), _unb64(parts[2])
    except (ValueError, binascii.Error):
        raise EnrollmentError("invalid_token", "the enrollment token is damaged (copy it again)") from None
    if len(secret_bytes) != 24 or len(pin) != 32:
        raise EnrollmentError("invalid_token", "the enrollment token is damaged (copy it again)")
    return ParsedToken(parts[1], pin.hex())
