"""The helpdesk's side of security keys and passkeys: remove one key of a staff member (lost, or
left with someone who has gone). The caller has checked the actor's scope and permission."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.i18n import N_

from .. import audit
from ..auth import webauthn_keys
from ..db.models import WebAuthnCredential
from .errors import AdminError


async def remove_key(s: AsyncSession, login_id: str, key_id: int, actor: str | None, *, address: str | None) -> None:
    """Delete the key (it must be this account's); the account's web sessions stay (the key only
    mattered at login). Audited as `webauthn_removed` with the key's name."""
    name = (
        await s.execute(
            select(WebAuthnCredential.name).where(
                WebAuthnCredential.id == key_id, WebAuthnCredential.user_id == login_id
            )
        )
    ).scalar_one_or_none()
    if name is None or not await webauthn_keys.remove(s, login_id, key_id, keep_one=False):
        raise AdminError(N_("There is no such security key."))
    audit.add(s, "webauthn_removed", "ok", actor=actor, subject=login_id, address=address, key=key_id, key_name=name)
