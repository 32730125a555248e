"""One directory entry's attributes in jiseki's terms (pure: no I/O, fuzzed with hypothesis).

The directory is input like any other: every value is decoded strictly (UTF-8), size-limited and
checked for control characters. An entry without a usable login ID or name is refused (`EntryError`,
the synchronisation counts it as skipped); an unusable optional value (reading, department) is dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn

from jiseki.config_directory import ROLES, DirectoryConfig
from jiseki.config_mail import MAX_ADDRESS, valid_address

from ..auth.kana import ReadingError, normalise_reading
from ..textclean import has_controls
from .people import AccountState, DirectoryPerson

MAX_VALUE_BYTES = 1024  # one attribute value (a name, a DN, a number)
MAX_VALUES = 2000  # values of one attribute (memberOf)
MAX_NAME = 255  # users.display_name, departments.name
MAX_LOGIN_ID = 64  # users.id (jiseki.gateway.auth.accounts.MAX_LOGIN_ID)
AD_NEVER = 0x7FFFFFFFFFFFFFFF  # accountExpires: never (so is 0)
UAC_ACCOUNTDISABLE = 0x2
LDAP_DISABLED_MARK = "000001010000Z"  # pwdAccountLockedTime: locked by an administrator, for good
_EPOCH_1601 = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
_LOGIN_CHARS = re.compile(r"[0-9a-z._@-]+")
# AD's bind failure (49) carries the reason in its diagnostic message:
# "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 533, v4563"
_AD_DATA = re.compile(r"\bdata ([0-9a-f]{3,8})\b", re.IGNORECASE)
_AD_BIND_STATES = {
    "533": AccountState.DISABLED,  # account disabled
    "701": AccountState.EXPIRED,  # account expired
    "532": AccountState.EXPIRED,  # password expired (to be changed in Windows first)
    "773": AccountState.EXPIRED,  # password must be reset
    "775": AccountState.LOCKED,  # account locked out
}


class EntryError(ValueError):
    """An entry that cannot be a jiseki account; the message names the reason (for the run's log)."""


def filetime_to_datetime(value: int) -> dt.datetime | None:
    """A Windows FILETIME (100 ns since 1601) as a UTC datetime; None for "never" (0, 0x7FFF...)
    and for values outside what datetime can hold."""
    if value <= 0 or value >= AD_NEVER:
        return None
    try:
        return _EPOCH_1601 + dt.timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def bind_name(config: DirectoryConfig, login_id: str) -> str:
    """The name to bind as for bind = "upn" (login@upn_suffix) or "sam" (DOMAIN\\login)."""
    if config.bind == "upn":
        return f"{login_id}@{config.upn_suffix}"
    return f"{config.netbios_domain}\\{login_id}"


def bind_refusal(message: str) -> AccountState | None:
    """The account state behind an AD bind failure's diagnostic message; None: a wrong password."""
    match = _AD_DATA.search(message or "")
    return _AD_BIND_STATES.get(match.group(1).lower()) if match else None


def normal_dn(dn: str) -> str:
    """A DN in one comparable form (attribute names and values lower-case, no spaces around = and ,).
    Raises EntryError for a malformed DN."""
    if len(dn.encode()) > MAX_VALUE_BYTES or has_controls(dn):
        raise EntryError("DN too long or with control characters")
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except (LDAPInvalidDnError, ValueError, IndexError) as e:
        raise EntryError(f"malformed DN: {e}") from None
    return ",".join(f"{attr.lower()}={value.lower()}" for attr, value, _sep in parts)


def first_ou(dn: str) -> str | None:
    """The first OU in a DN (the person's department when department_attribute = "ou")."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except (LDAPInvalidDnError, ValueError, IndexError):
        return None
    return next((value for attr, value, _sep in parts if attr.lower() == "ou"), None)


def _values(attrs: Mapping[str, Sequence[bytes]], name: str) -> list[bytes]:
    if not name:
        return []
    lower = name.lower()
    for key, values in attrs.items():
        if key.lower() == lower:
            if len(values) > MAX_VALUES:
                raise EntryError(f"{name}: more than {MAX_VALUES} values")
            return list(values)
    return []


def _text(attrs: Mapping[str, Sequence[bytes]], name: str) -> str | None:
    """The first value of `name` as text; None when absent; EntryError when not valid UTF-8 text."""
    values = _values(attrs, name)
    if not values:
        return None
    raw = values[0]
    if not isinstance(raw, bytes | bytearray) or len(raw) > MAX_VALUE_BYTES:
        raise EntryError(f"{name}: value too long")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise EntryError(f"{name}: not UTF-8") from None
    if has_controls(text):
        raise EntryError(f"{name}: control characters")
    return text.strip()


def _optional_text(attrs: Mapping[str, Sequence[bytes]], name: str, limit: int) -> str | None:
    try:
        text = _text(attrs, name)
    except EntryError:
        return None
    return text if text and len(text) <= limit else None


UAC_COMPUTED = "msDS-User-Account-Control-Computed"  # constructed: returned only when asked for by name
UF_LOCKOUT = 0x10


def _int(attrs: Mapping[str, Sequence[bytes]], name: str) -> int:
    """An integer attribute; 0 when absent or not a number (absent lockoutTime, accountExpires: never)."""
    text = _optional_text(attrs, name, 24)
    if not text or not re.fullmatch(r"-?[0-9]{1,20}", text):
        return 0
    return int(text)


def login_id_of(config: DirectoryConfig, attrs: Mapping[str, Sequence[bytes]]) -> str:
    """jiseki's login ID: the login attribute, lower-case (AD and LDAP compare it without case)."""
    text = _text(attrs, config.effective_login_attribute)
    if not text:
        raise EntryError(f"no {config.effective_login_attribute}")
    login_id = text.lower()
    if len(login_id) > MAX_LOGIN_ID or not _LOGIN_CHARS.fullmatch(login_id):
        raise EntryError(f"{config.effective_login_attribute}: not usable as a login ID")
    return login_id


def account_state(config: DirectoryConfig, attrs: Mapping[str, Sequence[bytes]], now: dt.datetime) -> AccountState:
    """Disabled before expired before locked: the most lasting reason is the one recorded."""
    if config.kind == "ad":
        if _int(attrs, "userAccountControl") & UAC_ACCOUNTDISABLE:
            return AccountState.DISABLED
        expires = filetime_to_datetime(_int(attrs, "accountExpires"))
        if expires is not None and expires <= now:
            return AccountState.EXPIRED
        # AD keeps lockoutTime after a lockout has ended (until the next logon); the constructed
        # msDS-User-Account-Control-Computed says whether it is locked now. lockoutTime only where the
        # server has no such attribute (an AD-like schema on another server).
        computed = _optional_text(attrs, UAC_COMPUTED, 24)
        if computed is not None:
            locked_now = bool(_int(attrs, UAC_COMPUTED) & UF_LOCKOUT)
        else:
            locked_now = _int(attrs, "lockoutTime") != 0
        return AccountState.LOCKED if locked_now else AccountState.ACTIVE
    locked = _optional_text(attrs, "pwdAccountLockedTime", 32)
    if locked:
        return AccountState.DISABLED if locked == LDAP_DISABLED_MARK else AccountState.LOCKED
    return AccountState.ACTIVE


def direct_groups(attrs: Mapping[str, Sequence[bytes]]) -> list[str]:
    """The memberOf values (AD: the groups the entry is directly in), normalised; bad ones dropped."""
    groups = []
    for raw in _values(attrs, "memberOf"):
        try:
            groups.append(normal_dn(bytes(raw).decode("utf-8")))
        except (EntryError, UnicodeDecodeError):
            continue
    return groups


def role_of(config: DirectoryConfig, groups: Iterable[str]) -> str:
    """The role given by the (normalised, nested-resolved) groups: admin, then helpdesk, then auditor."""
    have = set(groups)
    for role in ROLES:
        dn = config.role_groups.get(role)
        if dn and normal_dn(dn) in have:
            return role
    return "staff"


def in_allowed_groups(config: DirectoryConfig, groups: Iterable[str]) -> bool:
    """True when `group_dns` is empty or the person is in one of them (nested membership counts)."""
    if not config.group_dns:
        return True
    return not {normal_dn(dn) for dn in config.group_dns}.isdisjoint(groups)


def person_from_entry(
    config: DirectoryConfig,
    dn: str,
    attrs: Mapping[str, Sequence[bytes]],
    groups: Iterable[str],
    now: dt.datetime,
) -> DirectoryPerson:
    """The person an entry describes; `groups` are every group the entry is in, nested ones included
    (normalised DNs). Raises EntryError when the entry cannot be an account here."""
    normal_dn(dn)  # a malformed DN is refused
    login_id = login_id_of(config, attrs)
    name = _text(attrs, config.name_attribute) or _optional_text(attrs, "cn", MAX_NAME)
    if not name:
        raise EntryError(f"no {config.name_attribute}")
    if len(name) > MAX_NAME:
        raise EntryError(f"{config.name_attribute}: longer than {MAX_NAME} characters")
    reading = None
    if config.reading_attribute:
        try:
            reading = normalise_reading(_optional_text(attrs, config.reading_attribute, MAX_VALUE_BYTES))
        except ReadingError:
            reading = None
    if config.department_attribute.lower() == "ou":
        department = first_ou(dn)
    else:
        department = _optional_text(attrs, config.department_attribute, MAX_NAME)
    if department is not None and (has_controls(department) or len(department) > MAX_NAME or not department.strip()):
        department = None
    email = _optional_text(attrs, config.mail_attribute, MAX_ADDRESS) if config.mail_attribute else None
    if email is not None and not valid_address(email):
        email = None  # not an address a mail could go to: none rather than a broken one
    return DirectoryPerson(
        dn=dn,
        login_id=login_id,
        name=name,
        reading=reading,
        department=department.strip() if department else None,
        role=role_of(config, groups),
        state=account_state(config, attrs, now),
        email=email,
    )
