"""Which second factor a staff member's login needs: the one-time code (TOTP), a security key or
passkey (WebAuthn), or either.

The value is kept on the policies of departments and of the organisation (`PolicyRow.second_factor`)
but it is not a session setting (not in `jiseki.policy_settings`): it decides the login, not what a
session may do. The effective value is the department's if set, else the organisation default's,
else "either" (built in)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from ..db.models import PolicyRow, User

TOTP, WEBAUTHN, EITHER = "totp", "webauthn", "either"
VALUES = (TOTP, WEBAUTHN, EITHER)
DEFAULT = EITHER
LABELS = {
    TOTP: N_("One-time code (authenticator app) only"),
    WEBAUTHN: N_("Security key or passkey only"),
    EITHER: N_("Either"),
}
LABEL = N_("Second factor at login")
SCOPES = ("organisation", "department")  # PC groups have no say in how staff log in


def resolve(department: str | None, organisation: str | None) -> str:
    """The effective value from the department's and the organisation's stored ones (None: not set)."""
    for value in (department, organisation):
        if value in VALUES:
            return value
    return DEFAULT


def checked(value: str | None) -> str | None:
    """A value from a form or the command line: one of `VALUES`, or None (not set here)."""
    if value in (None, ""):
        return None
    if value not in VALUES:
        raise ValueError(f"second_factor: must be one of {', '.join(VALUES)}")
    return value


async def effective(s: AsyncSession, user: User) -> str:
    """The second factor this account's login needs."""
    rows = (
        await s.execute(
            select(PolicyRow.scope, PolicyRow.second_factor).where(
                ((PolicyRow.scope == "organisation") & (PolicyRow.target_id == 0))
                | ((PolicyRow.scope == "department") & (PolicyRow.target_id == (user.department_id or -1)))
            )
        )
    ).all()
    found = {scope: value for scope, value in rows}
    return resolve(found.get("department"), found.get("organisation"))
