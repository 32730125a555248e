"""A person as the directory describes them, in jiseki's terms (pure data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AccountState(Enum):
    """What the directory says of the account; anything but ACTIVE refuses a login (generic message)."""

    ACTIVE = "active"
    DISABLED = "disabled"  # AD: userAccountControl ACCOUNTDISABLE; LDAP: pwdAccountLockedTime = 000001010000Z
    EXPIRED = "expired"  # AD: accountExpires in the past
    LOCKED = "locked"  # AD: msDS-User-Account-Control-Computed UF_LOCKOUT; LDAP: pwdAccountLockedTime


@dataclass(frozen=True)
class DirectoryPerson:
    dn: str
    login_id: str  # jiseki's login ID (sAMAccountName or uid), as it is in `users.id`
    name: str
    reading: str | None  # hiragana (normalised by jiseki.gateway.auth.kana) or None
    department: str | None  # the department's name
    role: str  # staff / helpdesk / admin / auditor, from group membership (nested groups count)
    state: AccountState
    email: str | None = None  # a valid mail address, or None when the directory gives none
