"""Engines and sessions for PostgreSQL (asyncpg) and SQLite (aiosqlite).

Services never commit: the request dependency or the consumer loop opens a transaction
with :meth:`Database.transaction` and it commits when the block ends without an error.

SQLite allows one writer at a time. Write transactions there start with
``BEGIN IMMEDIATE`` (they take the write lock up front and wait for it, instead of
failing when a read transaction tries to upgrade); read transactions start with a plain
``BEGIN`` and, thanks to WAL, never wait for writers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from paceline.shared.files import private_sqlite


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (event payloads, record states, contributions: one of each per event in
# scoring's batches) through orjson instead of the json module: several times faster.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def _sqlite_engine(url: str, *, begin: str) -> AsyncEngine:
    # hide_parameters: SQL errors are logged without their values (keys' hashes, secrets);
    # aiosqlite's DEBUG lines echo every statement's values, so it never logs below INFO.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    engine = create_async_engine(
        url, connect_args={"timeout": 30}, hide_parameters=True, **_JSON_CODEC
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver, then tune the connection.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """The engines and session factories of one process."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            private_sqlite(url)  # mode 0600: the data is the tenants'
            self.engine = _sqlite_engine(url, begin="BEGIN")
            self.write_engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE")
        else:
            self.engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                hide_parameters=True,  # no values (keys' hashes, secrets) in logged errors
                **_JSON_CODEC,
            )
            self.write_engine = self.engine
        self._read = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded database."""
        return self.dialect == "sqlite"

    async def ping(self) -> None:
        """One round trip to the database (readiness); raises when it does not answer."""
        async with self.transaction(write=False) as session:
            await session.execute(text("SELECT 1"))

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: commits on success, rolls back on error."""
        factory = self._write if write else self._read
        async with factory() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close all pooled connections."""
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
