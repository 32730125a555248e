"""Time-based one-time passwords (RFC 6238, 6 digits, 30 s) with replay protection.

A code is accepted once: the time step it belongs to is stored, and codes of that step or an
earlier one are refused afterwards. Secrets are kept encrypted in the database (`SecretBox`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import time
from pathlib import Path

import pyotp
import qrcode
import qrcode.image.svg
from cryptography.fernet import Fernet, InvalidToken

ISSUER = "jiseki"
STEP = 30
VALID_WINDOW = 1  # accept the previous and the next step too (clock drift)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg_data_uri(uri: str) -> str:
    """The QR code as an SVG data URI (allowed by the page's CSP; nothing is fetched)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def verify(secret: str, code: str, last_step: int, now: float | None = None) -> int | None:
    """The time step the code belongs to if it is valid and newer than `last_step`, else None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    current = int(now // STEP)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if step > last_step and pyotp.utils.strings_equal(totp.at(step * STEP), code):
            return step
    return None


def code_at(secret: str, now: float) -> str:
    return pyotp.TOTP(secret).at(now)


class SecretBox:
    """Encrypts TOTP secrets at rest with a key file in the data directory (0600)."""

    def __init__(self, key_file: Path) -> None:
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        self._key = key_file.read_bytes().strip()
        self._fernet = Fernet(self._key)

    def derive_key(self, label: str) -> bytes:
        """A separate key for another purpose, derived from this key file (one secret to share
        between nodes): HMAC-SHA256 of the label under the file's key."""
        return hmac.new(self._key, label.encode(), hashlib.sha256).digest()

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("the TOTP secret cannot be decrypted with this gateway's key") from None
