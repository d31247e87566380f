"""The SQL database beside the bus and the store: PostgreSQL (asyncpg) in production, SQLite (aiosqlite) in the
embedded default, behind one SQLAlchemy Core code path. Where the two must differ, the difference is one
function here with both versions (tests run both).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Table, TypeDecorator, case, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from command_center.errors import Unavailable


class UtcDateTime(TypeDecorator[datetime]):
    """A moment: `timestamp with time zone` on PostgreSQL, UTC without a zone on SQLite; always aware in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def open_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An engine for `url` (`postgresql+asyncpg://...` or `sqlite+aiosqlite:///path`)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (reports) never wait for the archive's writes
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # A custom plan for every statement: asyncpg prepares each one, and a generic plan made while a table was
    # still small (a sequential scan) would stay in use after it has grown.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                               connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"},
                                             "command_timeout": 60})  # a hung server is an outage, not a hang


def is_postgres(conn: AsyncConnection | AsyncEngine) -> bool:
    return conn.dialect.name == "postgresql"


def _insert(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT in both."""
    return (postgresql.insert if is_postgres(conn) else sqlite.insert)(table)


def insert_new(conn: AsyncConnection, table: Table, keys: Sequence[str]) -> Any:
    """INSERT that leaves a row already there (by `keys`) as it is: the same statement in both dialects."""
    return _insert(conn, table).on_conflict_do_nothing(index_elements=list(keys))


def upsert(conn: AsyncConnection, table: Table, keys: Sequence[str]) -> Any:
    """INSERT that replaces every other column of a row already there (by `keys`)."""
    stmt = _insert(conn, table)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={
        c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys})


# SQLSTATE classes and codes that waiting may cure: connection exceptions, insufficient resources (too many
# connections), operator intervention (shutting down, starting up), serialization failures and deadlocks.
RETRYABLE_SQLSTATES = ("08", "53", "57", "40001", "40P01", "55P03")


def sqlstate(err: BaseException) -> str:
    """The PostgreSQL SQLSTATE behind a driver error, when it has one."""
    orig = getattr(err, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None), err.__cause__):
        code = getattr(candidate, "sqlstate", None)
        if code:
            return str(code)
    return ""


def unavailable(err: Exception) -> bool:
    """A failure that waiting may cure (the server is down, restarting, or the connection dropped)."""
    if isinstance(err, (OperationalError, InterfaceError, OSError, ConnectionError, TimeoutError)):
        return True
    if not isinstance(err, DBAPIError):
        return False
    return bool(err.connection_invalidated) or sqlstate(err).startswith(RETRYABLE_SQLSTATES)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction; a lost or refused connection is Unavailable (the runner waits it out and retries)."""
    try:
        async with engine.begin() as conn:
            yield conn
    except Exception as err:
        if unavailable(err):
            raise Unavailable(f"database: {type(err).__name__}: {str(err).splitlines()[0][:200]}") from err
        raise


def upsert_adding(conn: AsyncConnection, table: Table, keys: Sequence[str], *, add: Sequence[str] = (),
                  least: Sequence[str] = (), greatest: Sequence[str] = ()) -> Any:
    """INSERT of a partial roll-up that, where the row is there, adds `add` columns to it and keeps the smaller
    of `least` and the larger of `greatest` (CASE, not LEAST/min: the same SQL on both dialects)."""
    stmt = _insert(conn, table)
    new, old = stmt.excluded, table.c
    changes: dict[str, Any] = {c: old[c] + new[c] for c in add}
    changes.update({c: case((new[c] < old[c], new[c]), else_=old[c]) for c in least})
    changes.update({c: case((new[c] > old[c], new[c]), else_=old[c]) for c in greatest})
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=changes)
