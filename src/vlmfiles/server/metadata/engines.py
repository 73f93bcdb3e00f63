"""Engine set-up for both databases: URLs, pools, and the connection settings each needs."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..settings import DATABASE_POOL_SIZE

# How long a request waits for a free PostgreSQL connection (then a 503: errors.py).
POOL_TIMEOUT_SECONDS = 30.0

# A pooled PostgreSQL connection idle this long is pinged before use.
IDLE_PING_SECONDS = 1.0


def is_sqlite(url: str) -> bool:
    return make_url(url).drivername.startswith("sqlite")


def async_database_url(url: str) -> str:
    """``sqlite:///x`` → ``sqlite+aiosqlite:///x``; ``postgresql://`` → ``+asyncpg``."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+aiosqlite"):
        return str(u.set(drivername="sqlite+aiosqlite"))
    if u.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def create_engine(url: str, pool_size: int = DATABASE_POOL_SIZE) -> AsyncEngine:
    """The async engine (migrations and tools use it on both databases; PostgreSQL's store
    runs on it). On PostgreSQL the pool keeps up to ``pool_size`` connections and has no
    overflow: an overflow connection is closed when returned, so under load every request
    would start a PostgreSQL backend. A request past the pool waits for a connection."""
    aurl = async_database_url(url)
    if aurl.startswith("sqlite"):
        engine = create_async_engine(aurl, connect_args={"timeout": 30})
        _sqlite_events(engine.sync_engine)
        return engine
    engine = create_async_engine(
        aurl, pool_size=pool_size, max_overflow=0, pool_timeout=POOL_TIMEOUT_SECONDS
    )
    _ping_if_idle(engine.sync_engine)
    return engine


def create_sqlite_engine(url: str) -> Engine:
    """SQLite's synchronous engine (the stdlib driver): the store's reads and writes."""
    u = make_url(url).set(drivername="sqlite")
    engine = sqlalchemy.create_engine(
        u, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8, max_overflow=32
    )
    _sqlite_events(engine)
    return engine


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a committed upload survives power loss
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # each statement its own transaction (the event loop's reader)
        immediate = options.get("vlmfiles_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _ping_if_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it sat idle for ``IDLE_PING_SECONDS``.

    ``pool_pre_ping`` pings at every checkout, a round trip per use; its job is a database
    restarted while the server was idle, and those connections are idle. This is
    SQLAlchemy's documented "custom pessimistic ping" recipe, with a threshold."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("vlmfiles_used", 0.0) > IDLE_PING_SECONDS:
            try:
                dbapi_conn.ping()
            except Exception as exc:
                raise sqlalchemy.exc.DisconnectionError() from exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["vlmfiles_used"] = time.monotonic()
