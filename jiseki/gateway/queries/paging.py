"""One page of a long list: a count and the rows of the page, clamped to the last page."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy import Row, Select

    # A select of any columns, and one of its rows (templates read the columns by name).
    AnySelect: TypeAlias = Select[*tuple[Any, ...]]
    AnyRow: TypeAlias = Row[*tuple[Any, ...]]

T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    number: int
    size: int
    total: int

    @classmethod
    def at(cls, requested: int, total: int, size: int) -> Paging:
        """Page `requested` (1-based) of `total` rows, or the last page if there are fewer."""
        pages = max(1, math.ceil(total / size))
        return cls(min(max(requested, 1), pages), size, total)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_item(self) -> int:
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_item(self) -> int:
        return min(self.total, self.offset + self.size)


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    paging: Paging


async def count(s: AsyncSession, query: AnySelect) -> int:
    return int((await s.execute(query)).scalar_one())


async def one_page(
    s: AsyncSession,
    count_query: AnySelect,
    rows_query: Callable[[int, int], AnySelect],
    requested: int,
    size: int,
) -> Page[AnyRow]:
    """Two statements whatever the page: the count, then the page's rows (`rows_query(limit, offset)`)."""
    paging = Paging.at(requested, await count(s, count_query), size)
    rows = (await s.execute(rows_query(paging.size, paging.offset))).all()
    return Page(rows, paging)
