"""What a command may open, each part on first use: the configuration, a migrated database, the CA,
the TOTP secret box, the audit head file. Unlike the gateway's state (`jiseki.gateway.state`),
nothing else: no broker, signaling or node registry. A command that reads one row opens the
database only; the CA (and its passphrase) only for commands that issue certificates.

Imports nothing of the gateway at module level, so that `jiseki agent` never loads it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from jiseki.config import Config, load_config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from jiseki.gateway.audit.head import HeadFile
    from jiseki.gateway.auth.passwords import PasswordPolicy
    from jiseki.gateway.auth.totp import SecretBox
    from jiseki.gateway.pki import CertificateAuthority

T = TypeVar("T")


class Context:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._engine: AsyncEngine | None = None
        self._db: async_sessionmaker[AsyncSession] | None = None

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def data_dir(self) -> Path:
        """The gateway's data directory, created for this user only (the gateway does the same)."""
        data_dir = self.config.gateway.data_dir
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return data_dir

    async def db(self) -> async_sessionmaker[AsyncSession]:
        """The database at the newest schema: migrated on first use, as the gateway does at start."""
        if self._db is None:
            from jiseki.gateway.db.engine import make_engine, sessionmaker, upgrade_to_head

            gw = self.config.gateway
            _ = self.data_dir  # made first, private: the SQLite file lives in it
            self._engine = make_engine(gw.effective_database_url, gw.database_pool_size, gw.database_max_overflow)
            await upgrade_to_head(self._engine)
            self._db = sessionmaker(self._engine)
        return self._db

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reading."""
        async with (await self.db())() as s:
            yield s

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends without an error."""
        async with (await self.db()).begin() as s:
            yield s

    @cached_property
    def ca(self) -> CertificateAuthority:
        """The CA (created on first use, as by the gateway); needs the CA passphrase if it has one."""
        from jiseki.gateway.pki import CertificateAuthority

        gw = self.config.gateway
        return CertificateAuthority(self.data_dir / "pki", gw.ca_passphrase.encode() or None)

    @cached_property
    def box(self) -> SecretBox:
        """The key that seals one-time-code secrets (created on first use, as by the gateway)."""
        from jiseki.gateway.auth.totp import SecretBox

        return SecretBox(self.data_dir / "secrets" / "totp.key")

    @cached_property
    def audit_head(self) -> HeadFile:
        """Where this data directory records the audit chain's head (outside the database)."""
        from jiseki.gateway.audit.head import HeadFile

        return HeadFile.in_data_dir(self.data_dir)

    @cached_property
    def password_policy(self) -> PasswordPolicy:
        from jiseki.gateway.auth.passwords import PasswordPolicy

        auth = self.config.auth
        return PasswordPolicy(auth.password_min_length, auth.password_min_classes)

    @property
    def terminal_lifetime(self) -> dt.timedelta:
        return dt.timedelta(days=self.config.gateway.terminal_cert_days)

    @property
    def agent_lifetime(self) -> dt.timedelta:
        return dt.timedelta(days=self.config.gateway.agent_cert_days)

    def run(self, action: Callable[[Context], Awaitable[T]]) -> T:
        """Run `action` in an event loop of its own; the database is closed afterwards."""

        async def run() -> T:
            try:
                return await action(self)
            finally:
                await self.close()

        return asyncio.run(run())

    def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run one audited operation (`work(session)`, e.g. an `admin` function) in a transaction of its own."""

        async def action(ctx: Context) -> T:
            async with ctx.transaction() as s:
                return await work(s)

        return self.run(action)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._db = None
