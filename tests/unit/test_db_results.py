"""The row count the atomic check-then-write operations decide on, on a real (in-memory) SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jiseki.gateway.db.results import rowcount


class _Base(DeclarativeBase):
    pass


class _Token(_Base):
    __tablename__ = "token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    used_by: Mapped[str | None] = mapped_column(String(16))


async def test_rowcount_tells_which_request_won_and_refuses_a_select() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)
        async with async_sessionmaker(engine)() as s:
            s.add_all([_Token(id=1), _Token(id=2)])
            await s.flush()
            claim = update(_Token).where(_Token.id == 1, _Token.used_by.is_(None))
            assert rowcount(await s.execute(claim.values(used_by="first"))) == 1
            assert rowcount(await s.execute(claim.values(used_by="second"))) == 0  # already taken
            assert rowcount(await s.execute(delete(_Token))) == 2
            with pytest.raises(TypeError, match="not an UPDATE or DELETE"):
                rowcount(await s.execute(select(_Token.id)))
    finally:
        await engine.dispose()
