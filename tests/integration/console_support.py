"""Console accounts (administrator, helpdesk, auditor) for the integration tests, added to the
database of a running test gateway, and small helpers for console pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from jiseki.gateway.admin import create_user
from jiseki.gateway.auth import totp
from jiseki.gateway.auth.passwords import PasswordPolicy
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import AuditEvent, User

from .conftest import PASSWORD, RunningGateway, Staff

CONSOLE_USERS = (("root", "admin"), ("hd", "helpdesk"), ("aud", "auditor"))


@asynccontextmanager
async def database(gw: RunningGateway) -> AsyncIterator[AsyncSession]:
    engine = make_engine(gw.db_url())
    try:
        async with sessionmaker(engine).begin() as s:
            yield s
    finally:
        await engine.dispose()


async def add_console_users(gw: RunningGateway) -> None:
    box = totp.SecretBox(gw.config.gateway.data_dir / "secrets" / "totp.key")
    async with database(gw) as s:
        for login_id, role in CONSOLE_USERS:
            await create_user(s, PasswordPolicy(), login_id, f"{role} {login_id}", "情報政策課", role, PASSWORD, "test")
            secret = totp.new_secret()
            user = await s.get(User, login_id)
            assert user is not None
            user.totp_secret, user.totp_enabled = box.seal(secret), True
            gw.staff[login_id] = Staff(login_id, PASSWORD, secret)


async def events(gw: RunningGateway, kind: str) -> list[AuditEvent]:
    async with database(gw) as s:
        return list(
            (await s.execute(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))).scalars()
        )


_TAGS = re.compile(r"<[^>]+>")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", _TAGS.sub(" ", html))
