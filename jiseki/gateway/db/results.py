"""What a data-changing statement reports back."""

from __future__ import annotations

from sqlalchemy.engine import CursorResult


def rowcount(result: object) -> int:
    """Rows matched by an UPDATE or DELETE run through a session.

    `AsyncSession.execute` is typed to return a plain `Result`; for such a statement it is a
    `CursorResult`, the only kind that has a row count. The atomic check-then-write operations
    decide on this number (1: this request won)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"no row count on {type(result).__name__}: not an UPDATE or DELETE")
    return result.rowcount
