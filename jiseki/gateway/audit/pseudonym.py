"""A login ID that matches no account, as the audit trail keeps it.

People type passwords into the ID field; kept verbatim, such a password would stay in the trail for
years and reach the SIEM. The trail keeps `unknown:` and the first 16 hex digits of an HMAC-SHA256
under a key derived from the gateway's secret key file instead: the same text always gives the
same value (the helpdesk can see repeated attempts from one typo or one attacker), and without the
key nobody can test guesses against it.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "unknown:"
KEY_LABEL = "jiseki audit: unknown login id"
DIGITS = 16  # 64 bits: collisions among mistyped IDs are negligible


def unknown_login_id(key: bytes, typed: str) -> str:
    digest = hmac.new(key, typed.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:DIGITS]
