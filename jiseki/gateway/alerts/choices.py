"""Who wants which alerts: a console user's own address and ticked kinds, and the address an
administrator sets on a staff member's account. Each change one transaction's worth, audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..db.models import AlertChoice, User


@dataclass(frozen=True)
class Choices:
    email: str | None
    language: str | None
    kinds: frozenset[str]


async def choices_of(s: AsyncSession, user_id: str) -> Choices | None:
    """The person's address, language and chosen kinds (None: no such account)."""
    user = await s.get(User, user_id)
    if user is None:
        return None
    kinds = (await s.execute(select(AlertChoice.kind).where(AlertChoice.user_id == user_id))).scalars()
    return Choices(user.email, user.language, frozenset(kinds))


async def save_choices(
    s: AsyncSession, user_id: str, email: str | None, kinds: set[str], *, address: str | None
) -> None:
    """One's own address and kinds, replacing the previous choice; audited as `alert_choices`."""
    before = await _replace_email(s, user_id, email)
    await s.execute(delete(AlertChoice).where(AlertChoice.user_id == user_id))
    s.add_all(AlertChoice(user_id=user_id, kind=kind) for kind in sorted(kinds))
    s.add(
        audit.change(
            "alert_choices",
            actor=user_id,
            subject=user_id,
            before={"email": before},
            after={"email": email, "alerts": ",".join(sorted(kinds))},
            address=address,
        )
    )


async def set_email(s: AsyncSession, login_id: str, email: str | None, actor: str, *, address: str | None) -> None:
    """An administrator sets a staff member's address (for alerts about their own account)."""
    before = await _replace_email(s, login_id, email)
    s.add(
        audit.change(
            "user_updated",
            actor=actor,
            subject=login_id,
            before={"email": before},
            after={"email": email},
            address=address,
        )
    )


async def _replace_email(s: AsyncSession, login_id: str, email: str | None) -> str | None:
    """Set the account's address; the one it had, for the audit event."""
    before = await s.scalar(select(User.email).where(User.id == login_id))
    await s.execute(update(User).where(User.id == login_id).values(email=email))
    return before
