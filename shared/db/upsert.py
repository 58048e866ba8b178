"""The one dialect switch for upserts: an INSERT that knows ``ON CONFLICT``.

PostgreSQL and SQLite both answer ``INSERT ... ON CONFLICT (cols) DO NOTHING / DO UPDATE``
and SQLAlchemy gives each its own ``insert()`` with the same ``on_conflict_do_nothing`` /
``on_conflict_do_update(index_elements=..., set_=...)`` and ``excluded`` API. Repositories
call :func:`insert_for` (or :func:`insert_of` with a dialect name, for cached statements)
instead of choosing the module themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    """``postgresql`` or ``sqlite``: the database the session talks to."""
    return str(session.get_bind().dialect.name)


def insert_of(dialect: str, table: Any) -> Any:
    """An upsert-capable INSERT into ``table`` for a dialect (PostgreSQL or SQLite)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"no upsert for the {dialect!r} dialect")


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An upsert-capable INSERT into ``table`` for the session's database."""
    return insert_of(dialect_of(session), table)
