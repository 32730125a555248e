"""Security keys and passkeys (WebAuthn) as the login's second factor, with py_webauthn.

User verification is required (a PIN or a fingerprint on the key: the key alone is not a factor of
its own), passkeys are welcome (resident key preferred), attestation is not asked for ("none").

Every value from the browser is hostile: `parse_registration` and `parse_assertion` check sizes,
types and base64url before the library sees anything. A challenge lives on the web session row for
`CHALLENGE_SECONDS` and is consumed by one conditional UPDATE, so one challenge answers once. The
sign counter is moved forward by one conditional UPDATE too: an answer whose counter does not grow
(a cloned key, or a replay) changes nothing and is reported as `CLONE`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
import re
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, func, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from jiseki.config import GatewayConfig
from jiseki.i18n import N_

from ..db.models import User, WebAuthnCredential, WebSession
from ..db.results import rowcount
from ..textclean import has_controls

CHALLENGE_SECONDS = 120
TIMEOUT_MS = 90_000
RP_NAME = "jiseki"
MAX_CREDENTIAL_ID = 1023  # bytes (WebAuthn Level 3: at most 1023); 1364 base64url characters
MAX_CLIENT_DATA = 2048  # bytes of clientDataJSON
MAX_AUTHENTICATOR_DATA = 4096
MAX_SIGNATURE = 1024
MAX_ATTESTATION_OBJECT = 16384  # "none" is ~300 bytes; "packed" with a certificate a few KB
MAX_USER_HANDLE = 64
MAX_NAME = 64
MAX_KEYS = 20  # per account
MAX_BODY = 32 * 1024  # the JSON a page posts
REGISTER, LOGIN = "reg", "auth"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


class KeyInputError(ValueError):
    """A browser's answer that cannot be read; `msgid` is the catalogue message for the page."""

    def __init__(self, msgid: str, detail: str) -> None:
        super().__init__(detail)
        self.msgid = msgid


UNREADABLE = N_("The security key's answer could not be read. Please try again.")


@dataclass(frozen=True)
class RelyingParty:
    """Who the keys are for: the RP ID (a host name, never an IP address) and the page origins."""

    rp_id: str
    origins: tuple[str, ...]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def relying_party(gw: GatewayConfig) -> RelyingParty:
    """The public URL's host name if it is a name, else the first server name that is not an
    address (WebAuthn refuses IP addresses); the origins are that name with the public URL's port."""
    public = urlsplit(gw.public_url) if gw.public_url else None
    port = (public.port if public is not None and public.port else None) or (443 if public else gw.port)
    if public is not None and public.hostname and not _is_ip(public.hostname):
        rp_id = public.hostname.lower()
    else:
        names = [n.lower() for n in gw.server_names if n and not _is_ip(n) and "*" not in n]
        rp_id = names[0] if names else "localhost"
    origin = f"https://{rp_id}" if port == 443 else f"https://{rp_id}:{port}"
    origins = [origin]
    if gw.port != port:  # reached directly too (a node behind a load balancer)
        origins.append(f"https://{rp_id}:{gw.port}")
    return RelyingParty(rp_id, tuple(origins))


# ---- the browser's answers -------------------------------------------------------------------


def b64url(value: object, max_bytes: int, field: str, *, required: bool = True) -> bytes:
    """Decode an unpadded base64url string of at most `max_bytes` decoded bytes; anything else is refused."""
    if value is None and not required:
        return b""
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise KeyInputError(UNREADABLE, f"{field}: not base64url")
    if len(value) > (max_bytes * 4 + 2) // 3:
        raise KeyInputError(UNREADABLE, f"{field}: too long")
    if required and not value:
        raise KeyInputError(UNREADABLE, f"{field}: empty")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise KeyInputError(UNREADABLE, f"{field}: not base64url") from None
    if to_b64url(data) != value:  # one spelling per value: identifiers are compared as text
        raise KeyInputError(UNREADABLE, f"{field}: not canonical base64url")
    return data


def to_b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read_json(body: bytes | str) -> dict[str, Any]:
    """The JSON object a page posted (at most `MAX_BODY` bytes)."""
    if len(body) > MAX_BODY:
        raise KeyInputError(UNREADABLE, "body too large")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise KeyInputError(UNREADABLE, "not JSON") from None
    return _object(value)


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KeyInputError(UNREADABLE, "not an object")
    return value


def _credential_common(value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if value.get("type") != "public-key":
        raise KeyInputError(UNREADABLE, "type")
    raw = b64url(value.get("rawId"), MAX_CREDENTIAL_ID, "rawId")
    cred_id = value.get("id")
    if cred_id != to_b64url(raw):
        raise KeyInputError(UNREADABLE, "id differs from rawId")
    response = value.get("response")
    if not isinstance(response, dict):
        raise KeyInputError(UNREADABLE, "response")
    return str(cred_id), response


def client_challenge(client_data: bytes, expected_type: str) -> str:
    """The challenge (base64url) of a clientDataJSON of `expected_type`, for consuming it."""
    try:
        data = json.loads(client_data)
    except (ValueError, RecursionError):
        raise KeyInputError(UNREADABLE, "clientDataJSON: not JSON") from None
    if not isinstance(data, dict) or data.get("type") != expected_type:
        raise KeyInputError(UNREADABLE, "clientDataJSON: type")
    challenge = data.get("challenge")
    if not isinstance(challenge, str) or len(b64url(challenge, 64, "challenge")) != 32:
        raise KeyInputError(UNREADABLE, "clientDataJSON: challenge")
    return challenge


@dataclass(frozen=True)
class Answer:
    """A checked answer: the credential's id, its challenge, and the JSON for py_webauthn."""

    credential_id: str
    challenge: str
    credential: dict[str, Any]
    transports: tuple[str, ...] = ()


def parse_registration(posted: object) -> Answer:
    """A `navigator.credentials.create()` answer as the page posts it (PublicKeyCredential JSON)."""
    value = _object(posted)
    cred_id, response = _credential_common(value)
    client_data = b64url(response.get("clientDataJSON"), MAX_CLIENT_DATA, "clientDataJSON")
    b64url(response.get("attestationObject"), MAX_ATTESTATION_OBJECT, "attestationObject")
    transports = response.get("transports", [])
    if not isinstance(transports, list) or len(transports) > 8 or any(t not in _TRANSPORTS for t in transports):
        raise KeyInputError(UNREADABLE, "transports")
    credential = {
        "id": cred_id,
        "rawId": cred_id,
        "type": "public-key",
        "response": {
            "clientDataJSON": response["clientDataJSON"],
            "attestationObject": response["attestationObject"],
            "transports": transports,
        },
    }
    attachment = value.get("authenticatorAttachment")
    if attachment in ("platform", "cross-platform"):
        credential["authenticatorAttachment"] = attachment
    return Answer(
        cred_id, client_challenge(client_data, "webauthn.create"), credential, tuple(dict.fromkeys(transports))
    )


def parse_assertion(posted: object) -> Answer:
    """A `navigator.credentials.get()` answer as the page posts it."""
    value = _object(posted)
    cred_id, response = _credential_common(value)
    client_data = b64url(response.get("clientDataJSON"), MAX_CLIENT_DATA, "clientDataJSON")
    b64url(response.get("authenticatorData"), MAX_AUTHENTICATOR_DATA, "authenticatorData")
    b64url(response.get("signature"), MAX_SIGNATURE, "signature")
    handle = response.get("userHandle")
    b64url(handle, MAX_USER_HANDLE, "userHandle", required=False)
    inner = {k: response[k] for k in ("clientDataJSON", "authenticatorData", "signature")}
    if handle:
        inner["userHandle"] = handle
    credential = {"id": cred_id, "rawId": cred_id, "type": "public-key", "response": inner}
    return Answer(cred_id, client_challenge(client_data, "webauthn.get"), credential)


def key_name(raw: object) -> str:
    """A key's name as typed: 1–64 characters, no control characters."""
    name = raw.strip() if isinstance(raw, str) else ""
    if not name or len(name) > MAX_NAME or has_controls(name):
        raise KeyInputError(N_("Name the key in 1 to 64 characters."), "name")
    return name


# ---- challenges on the web session -----------------------------------------------------------


async def issue_challenge(s: AsyncSession, session_id: str, purpose: str, now: dt.datetime) -> bytes:
    """A new challenge for this web session (replacing any pending one)."""
    challenge = secrets.token_bytes(32)
    await s.execute(
        update(WebSession)
        .where(WebSession.id == session_id)
        .values(challenge=f"{purpose}:{to_b64url(challenge)}", challenge_at=now)
        .execution_options(synchronize_session=False)
    )
    return challenge


async def consume_challenge(s: AsyncSession, session_id: str, purpose: str, challenge: str, now: dt.datetime) -> bool:
    """True for exactly one caller: the pending challenge is this one, fresh, and is cleared."""
    fresh_from = type_coerce(now - dt.timedelta(seconds=CHALLENGE_SECONDS), WebSession.challenge_at.type)
    result = await s.execute(
        update(WebSession)
        .where(
            WebSession.id == session_id,
            WebSession.challenge == f"{purpose}:{challenge}",
            WebSession.challenge_at > fresh_from,
        )
        .values(challenge=None, challenge_at=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


# ---- the account's keys ----------------------------------------------------------------------


async def keys_of(s: AsyncSession, user_id: str) -> list[WebAuthnCredential]:
    rows = await s.execute(
        select(WebAuthnCredential)
        .where(WebAuthnCredential.user_id == user_id)
        .order_by(WebAuthnCredential.created_at, WebAuthnCredential.id)
    )
    return list(rows.scalars())


async def key_count(s: AsyncSession, user_id: str) -> int:
    return int((await s.execute(select(func.count()).where(WebAuthnCredential.user_id == user_id))).scalar_one() or 0)


async def _handle(s: AsyncSession, user: User) -> bytes:
    """The account's WebAuthn user handle: random, made on first use (never the login ID)."""
    if not user.webauthn_handle:
        handle = to_b64url(secrets.token_bytes(32))
        await s.execute(
            update(User)
            .where(User.id == user.id, User.webauthn_handle.is_(None))
            .values(webauthn_handle=handle)
            .execution_options(synchronize_session=False)
        )
        stored = (await s.execute(select(User.webauthn_handle).where(User.id == user.id))).scalar_one()
        user.webauthn_handle = stored
    return b64url(user.webauthn_handle, 64, "handle")


def _descriptors(keys: list[WebAuthnCredential]) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for key in keys:
        transports = [AuthenticatorTransport(t) for t in (key.transports or "").split(",") if t in _TRANSPORTS]
        out.append(
            PublicKeyCredentialDescriptor(
                id=b64url(key.credential_id, MAX_CREDENTIAL_ID, "id"), transports=transports or None
            )
        )
    return out


async def registration_options(s: AsyncSession, rp: RelyingParty, user: User, session_id: str, now: dt.datetime) -> str:
    """The options for `navigator.credentials.create()` (JSON), with a new challenge on the session."""
    keys = await keys_of(s, user.id)
    if len(keys) >= MAX_KEYS:
        raise KeyInputError(N_("An account can have at most 20 security keys and passkeys."), "too many keys")
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_name=user.id,
        user_id=await _handle(s, user),
        user_display_name=user.display_name,
        challenge=await issue_challenge(s, session_id, REGISTER, now),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(keys),
    )
    return options_to_json(options)


async def register(
    s: AsyncSession, rp: RelyingParty, user: User, session_id: str, answer: Answer, name: str, now: dt.datetime
) -> WebAuthnCredential:
    """Check a registration answer against this session's challenge (consumed) and store the key."""
    if not await consume_challenge(s, session_id, REGISTER, answer.challenge, now):
        raise KeyInputError(N_("The request has expired or was already used. Please try again."), "challenge")
    try:
        verified = verify_registration_response(
            credential=answer.credential,
            expected_challenge=b64url(answer.challenge, 64, "challenge"),
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise KeyInputError(N_("The security key could not be registered. Please try again."), str(exc)) from None
    if await key_count(s, user.id) >= MAX_KEYS:
        raise KeyInputError(N_("An account can have at most 20 security keys and passkeys."), "too many keys")
    credential_id = to_b64url(verified.credential_id)
    taken = (
        await s.execute(select(WebAuthnCredential.id).where(WebAuthnCredential.credential_id == credential_id))
    ).first()
    if taken is not None:
        raise KeyInputError(N_("This security key is already registered."), "duplicate")
    key = WebAuthnCredential(
        credential_id=credential_id,
        user_id=user.id,
        name=name,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid)[:36] or None,
        transports=",".join(answer.transports)[:255] or None,
        discoverable=None,
        backed_up=verified.credential_backed_up,
        created_at=now,
    )
    s.add(key)
    await s.flush()
    return key


async def authentication_options(
    s: AsyncSession, rp: RelyingParty, user_id: str, session_id: str, now: dt.datetime
) -> str:
    """The options for `navigator.credentials.get()` (JSON): this account's keys only."""
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=await issue_challenge(s, session_id, LOGIN, now),
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(await keys_of(s, user_id)),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


class Verdict(Enum):
    OK = "ok"
    EXPIRED = "expired"  # no such pending challenge (expired, used, or another page's)
    UNKNOWN_KEY = "unknown_key"  # not one of this account's keys
    BAD = "bad_signature"  # the library refused it (signature, origin, RP ID, user verification)
    CLONE = "clone_suspected"  # the counter did not grow


@dataclass(frozen=True)
class Checked:
    verdict: Verdict
    key: WebAuthnCredential | None = None
    detail: str = ""
    sign_count: int = 0


async def verify_assertion(
    s: AsyncSession, rp: RelyingParty, user_id: str, session_id: str, answer: Answer, now: dt.datetime
) -> Checked:
    """Check a login answer: the session's challenge (consumed), the key (this account's), the
    signature with user verification, then the counter moved forward in one conditional UPDATE."""
    if not await consume_challenge(s, session_id, LOGIN, answer.challenge, now):
        return Checked(Verdict.EXPIRED)
    key = (
        await s.execute(
            select(WebAuthnCredential).where(
                WebAuthnCredential.credential_id == answer.credential_id, WebAuthnCredential.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    if key is None:
        return Checked(Verdict.UNKNOWN_KEY)
    try:
        verified = verify_authentication_response(
            credential=answer.credential,
            expected_challenge=b64url(answer.challenge, 64, "challenge"),
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            credential_public_key=key.public_key,
            credential_current_sign_count=0,  # the counter is checked below, in the UPDATE
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        return Checked(Verdict.BAD, key, str(exc)[:200])
    count = verified.new_sign_count
    # The counter must grow; an authenticator without one (always 0) is accepted only while both are 0.
    grows = WebAuthnCredential.sign_count < count
    counter_ok = or_(grows, WebAuthnCredential.sign_count == 0) if count == 0 else grows
    moved = await s.execute(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == key.id, counter_ok)
        .values(sign_count=count, last_used_at=now, backed_up=verified.credential_backed_up)
        .execution_options(synchronize_session=False)
    )
    if rowcount(moved) != 1:
        return Checked(Verdict.CLONE, key, f"counter {count} not above {key.sign_count}", count)
    return Checked(Verdict.OK, key, sign_count=count)


async def rename(s: AsyncSession, user_id: str, key_id: int, name: str) -> bool:
    result = await s.execute(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == key_id, WebAuthnCredential.user_id == user_id)
        .values(name=name)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def remove(s: AsyncSession, user_id: str, key_id: int, *, keep_one: bool) -> bool:
    """Delete one key of the account; with `keep_one`, only if another key remains, decided in the
    DELETE itself. The account row is touched first: in PostgreSQL that serialises two removals of
    an account's last two keys (the second DELETE then sees the first one's result)."""
    await s.execute(
        update(User)
        .where(User.id == user_id)
        .values(webauthn_handle=User.webauthn_handle)
        .execution_options(synchronize_session=False)
    )
    other = (
        select(WebAuthnCredential.id)
        .where(WebAuthnCredential.user_id == user_id, WebAuthnCredential.id != key_id)
        .correlate(None)
    )
    conditions = [WebAuthnCredential.id == key_id, WebAuthnCredential.user_id == user_id]
    if keep_one:
        conditions.append(exists(other))
    result = await s.execute(delete(WebAuthnCredential).where(*conditions).execution_options(synchronize_session=False))
    return rowcount(result) == 1
