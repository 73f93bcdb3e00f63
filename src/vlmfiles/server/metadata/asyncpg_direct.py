"""PostgreSQL's hottest statements run straight on asyncpg, on a connection from
SQLAlchemy's pool: a small upload's commit (one statement, ``queries.commit_inline_stmt``)
and the index probes requests make (the API-key lookup, a file by id), and a listing's
page (``fetch``).

Each is one round trip, and the server's event loop is what limits small requests. Through
``AsyncConnection.run_sync`` a statement also pays SQLAlchemy's greenlet hop, a
``Connection`` and its execution context and result (py-spy, 8 clients: ~20 % of the
server's GIL time around asyncpg's own ~10 %). Here the statement's SQL is compiled by
SQLAlchemy once (one copy of the SQL still, in queries.py), the connection comes from the
same pool (its checkout ping and checkin events included: ``engine.raw_connection()``,
SQLAlchemy's documented way to a driver connection), and asyncpg runs it with its own
prepared-statement cache. A/B, three pairs, 8 raw-socket clients, 4 KiB uploads: server
CPU per upload 0.68-0.81 -> 0.50-0.64 ms, 1,218-1,428 -> 1,442-1,864 uploads/s.

What SQLAlchemy's execution did besides, done here: errors are raised as SQLAlchemy's
(``IntegrityError``, ``ProgrammingError``, else ``DatabaseError``, as its asyncpg dialect
maps them; the driver's error as their cause), and a connection that broke (or a
statement cancelled half-way) is invalidated, never handed to the next request, its error
an ``OperationalError`` with ``connection_invalidated`` (a 503 the SDKs retry, errors.py).
SQLAlchemy would also retire every other connection the pool opened before the break;
here each one is retired when it fails in turn, or by the pool's ping if it sat idle
(store.py), so a database restart under load costs at most one 503 per pooled connection.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
import asyncpg
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn


@functools.cache
def compiled(stmt: Any) -> tuple[str, tuple[str, ...]]:
    """``stmt``'s SQL for asyncpg (``$1``, ``$2``...) and its parameters' names in order.
    Keyed by the statement object: for statements built once (queries.py), not per call."""
    c = stmt.compile(dialect=asyncpg_dialect())
    return str(c), tuple(c.positiontup or ())


async def fetchrow(engine: AsyncEngine, stmt: Any, params: dict[str, Any]) -> asyncpg.Record | None:
    """Run the prebuilt ``stmt`` in autocommit (its own transaction); its first row."""
    return await _run(engine, stmt, params, "fetchrow")


async def fetch(engine: AsyncEngine, stmt: Any, params: dict[str, Any]) -> list[asyncpg.Record]:
    """Run the prebuilt ``stmt`` in autocommit (its own transaction); all its rows."""
    return await _run(engine, stmt, params, "fetch")


async def _run(engine: AsyncEngine, stmt: Any, params: dict[str, Any], method: str) -> Any:
    sql, names = compiled(stmt)
    args = [params[name] for name in names]
    pooled = await engine.raw_connection()
    conn: asyncpg.Connection = pooled.driver_connection
    try:
        return await getattr(conn, method)(sql, *args)
    except BaseException as e:
        # A statement PostgreSQL refused leaves its connection usable; anything else
        # (a broken connection, a cancelled await with the query still running) does not.
        if isinstance(e, asyncpg.PostgresError) and not (
            isinstance(e, asyncpg.PostgresConnectionError) or conn.is_closed()
        ):
            raise _sqlalchemy_error(e)(sql, None, e) from e
        with anyio.CancelScope(shield=True):
            await greenlet_spawn(pooled.invalidate, e)  # closing it awaits: in a greenlet
        if isinstance(e, Exception):
            raise exc.OperationalError(sql, None, e, connection_invalidated=True) from e
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await greenlet_spawn(pooled.close)  # back to the pool (or closed, if invalidated)


def _sqlalchemy_error(e: asyncpg.PostgresError) -> type[exc.DBAPIError]:
    if isinstance(e, asyncpg.IntegrityConstraintViolationError):
        return exc.IntegrityError
    if isinstance(e, asyncpg.SyntaxOrAccessError):
        return exc.ProgrammingError
    return exc.DatabaseError
