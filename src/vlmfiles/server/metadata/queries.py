"""The SQL of tenants, keys and file records (listing included), and how a statement runs
(``run``): plain functions over a SQLAlchemy ``Connection`` (one copy of the SQL for both
databases), or statements built once for the backends to run (``LIVE_KEY``, ``GET_FILE``...).
Blobs and uploads are in blob_queries.py. The backends (``sqlite.py``, ``postgres.py``) open
the transactions.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    exc,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..security import hash_api_key, new_api_key, new_tenant_id
from .records import FileRecord, RevokedKey, now_us
from .tables import api_keys, files, tenants


def dialect_insert(dialect_name: str, table: Any) -> Any:
    """An INSERT with ON CONFLICT support, for PostgreSQL or SQLite."""
    return (postgresql if dialect_name == "postgresql" else sqlite).insert(table)


# The statements every request runs are built once, with bound parameters: building one per
# call and deriving its cache key cost more than running it. On SQLite the hottest go to the
# driver's cursor (``run``), their SQL compiled once, skipping SQLAlchemy's per-execution
# work; driver errors are wrapped as SQLAlchemy's, so they are classified as any other.


@functools.lru_cache(maxsize=256)  # keyed by engine dialect too: bounded, not one per engine
def _driver_sql(stmt: Any, dialect: Any, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    return str(compiled), tuple(compiled.positiontup or ())


def driver_execute(conn: Connection, sql: str, args: tuple[Any, ...] = ()) -> Any:
    """Execute ``sql`` on the driver's own cursor (see above); return the cursor."""
    dbapi = conn.dialect.loaded_dbapi
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None  # an open connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, args)
    except dbapi.Error as e:
        raise exc.DBAPIError.instance(sql, args, e, dbapi.Error) from e
    return cursor


def run(conn: Connection, stmt: Any, params: dict[str, Any]) -> Any:
    """Execute the prebuilt ``stmt`` with ``params``: on SQLite on the driver's own cursor.
    What it returns has ``fetchone()`` and ``rowcount`` either way."""
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt, params)
    sql, order = _driver_sql(stmt, conn.dialect, tuple(params))
    return driver_execute(conn, sql, tuple(params[k] for k in order))


@functools.cache
def _insert_file_stmt(dialect_name: str) -> Any:
    return dialect_insert(dialect_name, files).on_conflict_do_nothing(
        index_elements=["tenant_id", "sha256", "purpose"]
    )


GET_FILE = select(files).where(
    files.c.tenant_id == bindparam("tenant_id"), files.c.id == bindparam("file_id")
)
EXISTING_FILE = select(files).where(
    files.c.tenant_id == bindparam("tenant_id"),
    files.c.sha256 == bindparam("sha256"),
    files.c.purpose == bindparam("purpose"),
)
LIVE_KEYS = select(api_keys.c.tenant_id, api_keys.c.id).where(api_keys.c.revoked_us.is_(None))
LIVE_KEY = LIVE_KEYS.where(api_keys.c.key_hash == bindparam("key_hash"))
KEY_BY_ID = LIVE_KEYS.where(
    api_keys.c.id == bindparam("key_id"), api_keys.c.tenant_id == bindparam("tenant_id")
)


# Tenants and keys ----------------------------------------------------------------------


def create_key(conn: Connection, tenant_name: str) -> tuple[str, str]:
    key = new_api_key()
    conn.execute(
        dialect_insert(conn.dialect.name, tenants)
        .values(id=new_tenant_id(), name=tenant_name, created_us=now_us())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == tenant_name)).scalar_one()
    conn.execute(
        insert(api_keys).values(
            id="key_" + secrets.token_hex(8),
            tenant_id=tenant_id,
            key_hash=hash_api_key(key),
            prefix=key[:12],
            created_us=now_us(),
        )
    )
    return key, tenant_id


def tenant_for_key_hash(conn: Connection, key_hash: str) -> str | None:
    row = run(conn, LIVE_KEY, {"key_hash": key_hash}).fetchone()
    return None if row is None else row[0]


def check_key(conn: Connection, key_hash: str | None) -> None:
    """Raise ``RevokedKey`` unless ``key_hash`` (if given) is a live key's."""
    if key_hash is not None and tenant_for_key_hash(conn, key_hash) is None:
        raise RevokedKey(key_hash)


def revoke_key(conn: Connection, key_or_prefix: str) -> int:
    cond = (
        api_keys.c.key_hash == hash_api_key(key_or_prefix)
        if len(key_or_prefix) > 16
        else api_keys.c.prefix == key_or_prefix[:12]
    )
    return conn.execute(
        update(api_keys).where(cond, api_keys.c.revoked_us.is_(None)).values(revoked_us=now_us())
    ).rowcount


def list_keys(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            api_keys.c.prefix,
            tenants.c.name.label("tenant"),
            api_keys.c.created_us,
            api_keys.c.revoked_us,
        )
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .order_by(api_keys.c.created_us)
    )
    return [dict(r._mapping) for r in rows]


def count_active_keys(conn: Connection) -> int:
    q = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_us.is_(None))
    return conn.execute(q).scalar_one()


# Files ---------------------------------------------------------------------------------


# ``file_record`` builds a record from a row's values in order: the table's columns and the
# record's fields must stay in the same order.
if tuple(c.name for c in files.c) != tuple(f.name for f in fields(FileRecord)):  # pragma: no cover
    raise RuntimeError("files' columns and FileRecord's fields are not in the same order")


def fetch_one(conn: Connection, stmt: Any, params: dict[str, Any]) -> Any:
    """The first row of the prebuilt ``stmt``, a tuple (``SqliteStore._probe``)."""
    return run(conn, stmt, params).fetchone()


def file_record(row: Any) -> FileRecord:
    """A ``files`` row as a record, from its values in column order (``select(files)``): a
    driver's tuple or asyncpg's record as well as SQLAlchemy's row."""
    return FileRecord(*row)


def get_file(conn: Connection, tenant_id: str, file_id: str) -> FileRecord | None:
    row = fetch_one(conn, GET_FILE, {"tenant_id": tenant_id, "file_id": file_id})
    return None if row is None else file_record(row)


def find_by_hash(
    conn: Connection, tenant_id: str, md5: str | None, sha256: str | None, purpose: str | None
) -> FileRecord | None:
    q = select(files).where(files.c.tenant_id == tenant_id)
    if md5 is not None:
        q = q.where(files.c.md5 == md5)
    if sha256 is not None:
        q = q.where(files.c.sha256 == sha256)
    if purpose is not None:
        q = q.where(files.c.purpose == purpose)
    q = q.order_by(files.c.created_us.desc(), files.c.id.desc()).limit(1)
    row = conn.execute(q).first()
    return file_record(row) if row else None


def list_files(
    conn: Connection,
    tenant_id: str,
    purpose: str | None,
    skip: int,
    limit: int,
    after: tuple[int, str] | None,
) -> list[FileRecord]:
    """Newest first, ties broken by id; ``after`` (created_us, id) continues below that
    sort key, whether or not its file still exists."""
    stmt, params = list_files_query(tenant_id, purpose, skip, limit, after)
    # Rows as tuples into records, from the driver's cursor on SQLite: SQLAlchemy's rows
    # cost more than the query.
    return [file_record(row) for row in run(conn, stmt, params)]


def list_files_query(
    tenant_id: str, purpose: str | None, skip: int, limit: int, after: tuple[int, str] | None
) -> tuple[Any, dict[str, Any]]:
    """``list_files``' prebuilt statement and its parameters (PostgreSQL runs them on
    asyncpg directly)."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "skip": skip, "limit": limit}
    if purpose is not None:
        params["purpose"] = purpose
    if after is not None:
        params["after_us"], params["after_id"] = after
    return _list_files_stmt(purpose is not None, after is not None), params


@functools.cache
def _list_files_stmt(by_purpose: bool, after: bool) -> Any:
    """The listing's statement for each combination of filters, built once."""
    q = select(files).where(files.c.tenant_id == bindparam("tenant_id"))
    if by_purpose:
        q = q.where(files.c.purpose == bindparam("purpose"))
    if after:
        # A row-value comparison, so both databases seek the index to the cursor.
        q = q.where(
            tuple_(files.c.created_us, files.c.id)
            < tuple_(bindparam("after_us"), bindparam("after_id"))
        )
    return (
        q.order_by(files.c.created_us.desc(), files.c.id.desc())
        .offset(bindparam("skip"))
        .limit(bindparam("limit"))
    )


def existing_file(conn: Connection, tenant_id: str, sha256: str, purpose: str) -> FileRecord | None:
    row = fetch_one(
        conn, EXISTING_FILE, {"tenant_id": tenant_id, "sha256": sha256, "purpose": purpose}
    )
    return None if row is None else file_record(row)


def insert_file(conn: Connection, rec: FileRecord) -> tuple[FileRecord, bool]:
    """Insert ``rec`` unless the tenant has this content for this purpose already; the
    unique constraint decides between concurrent identical uploads. On PostgreSQL each
    statement sees what was committed before it, so the record the insert met may be
    deleted before the read of it: then the insert is tried again."""
    while True:
        if run(conn, _insert_file_stmt(conn.dialect.name), asdict(rec)).rowcount == 1:
            return rec, True
        found = existing_file(conn, rec.tenant_id, rec.sha256, rec.purpose)
        if found is not None:
            return found, False


def delete_file(conn: Connection, tenant_id: str, file_id: str) -> FileRecord | None:
    rec = get_file(conn, tenant_id, file_id)
    if rec is not None:
        conn.execute(delete(files).where(files.c.id == file_id))
    return rec
