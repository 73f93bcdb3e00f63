"""Every SQL statement of the server, as plain functions over a SQLAlchemy ``Connection``
(one copy of the SQL for both databases), or statements built once for the backends to run
(``commit_stmt``, ``LIVE_KEY``, ``GET_FILE``...). The backends (``sqlite.py``,
``postgres.py``) open the transactions.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import (
    Connection,
    LargeBinary,
    bindparam,
    delete,
    exc,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..security import hash_api_key, new_api_key, new_tenant_id
from .records import FileRecord, RevokedKey, UploadRecord, now_us
from .tables import api_keys, blob_data, blobs, files, tenants, uploads


def _insert(dialect_name: str, table: Any) -> Any:
    """An INSERT with ON CONFLICT support, for PostgreSQL or SQLite."""
    return (postgresql if dialect_name == "postgresql" else sqlite).insert(table)


# The statements every request runs are built once, with bound parameters: building one per
# call and deriving its cache key cost more than running it. On SQLite the hottest go to the
# driver's cursor (``_run``), their SQL compiled once, skipping SQLAlchemy's per-execution
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


def _run(conn: Connection, stmt: Any, params: dict[str, Any]) -> Any:
    """Execute the prebuilt ``stmt`` with ``params``: on SQLite on the driver's own cursor.
    What it returns has ``fetchone()`` and ``rowcount`` either way."""
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt, params)
    sql, order = _driver_sql(stmt, conn.dialect, tuple(params))
    return driver_execute(conn, sql, tuple(params[k] for k in order))


@functools.cache
def _lock_blob_stmt(dialect_name: str) -> Any:
    stmt = _insert(dialect_name, blobs)
    return stmt.on_conflict_do_update(
        index_elements=["sha256"], set_={"md5": func.coalesce(blobs.c.md5, stmt.excluded.md5)}
    )


@functools.cache
def _insert_file_stmt(dialect_name: str) -> Any:
    return _insert(dialect_name, files).on_conflict_do_nothing(
        index_elements=["tenant_id", "sha256", "purpose"]
    )


@functools.cache
def _insert_blob_data_stmt(dialect_name: str) -> Any:
    # DO NOTHING: the bytes of a sha256 are the same bytes, whoever stored them first.
    return _insert(dialect_name, blob_data).on_conflict_do_nothing(index_elements=["sha256"])


@functools.cache
def commit_stmt() -> Any:
    """PostgreSQL: an upload's commit as one statement (each statement is a round trip):
    lock or create the blob row, insert the record unless the tenant has one for these
    bytes and this purpose, and with a new record keep ``data`` (unless it is NULL: the
    bytes are in the blob store). ``postgres.PostgresStore`` runs it alone in autocommit,
    or in the transaction around the blob store's commit.

    Data-modifying CTEs run once each, to completion, in one snapshot; each reads the one
    before it (the record takes the blob row's md5, the bytes need a new record), so the
    blob row is locked (``ON CONFLICT DO UPDATE``) before the record is written. Its row:
    the blob's md5 and ``created`` (1 if the record was inserted, 0 if the tenant had one).
    No row: ``key_hash`` was given and is not a live key's, and nothing was written."""
    values = [bindparam(c, type_=files.c[c].type) for c in ("sha256", "md5")]
    values.append(bindparam("blob_created_us", type_=blobs.c.created_us.type))  # now
    key_hash = bindparam("key_hash", type_=api_keys.c.key_hash.type)
    live_key = or_(key_hash.is_(None), exists(_LIVE_KEY.where(api_keys.c.key_hash == key_hash)))
    blob = (
        _lock_blob_stmt("postgresql")
        .from_select(  # no row when the key is revoked: then nothing below is written
            ["sha256", "md5", "created_us", "size"],
            select(*values, bindparam("bytes", type_=files.c.bytes.type)).where(live_key),
        )
        .returning(blobs.c.md5)
        .cte("blob")
    )
    columns = [c.name for c in files.c]
    record = select(  # the record's values, its md5 the blob row's (a known one is kept)
        *[
            blob.c.md5 if name == "md5" else bindparam(name, type_=files.c[name].type)
            for name in columns
        ]
    )
    file = (
        postgresql.insert(files)
        .from_select(columns, record)
        .on_conflict_do_nothing(index_elements=["tenant_id", "sha256", "purpose"])
        .returning(files.c.id)
        .cte("file")
    )
    data_value = bindparam("data", type_=LargeBinary)
    data = (  # only with a new record, as in commit_upload's transaction
        postgresql.insert(blob_data)
        .from_select(
            ["sha256", "data"],
            select(bindparam("sha256", type_=files.c.sha256.type), data_value)
            .select_from(file)
            .where(data_value.is_not(None)),
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
        .cte("data")
    )
    created = select(func.count()).select_from(file).scalar_subquery()
    return select(blob.c.md5, created.label("created")).add_cte(data)


_BLOB_DATA = select(blob_data.c.data).where(blob_data.c.sha256 == bindparam("sha256"))
_BLOB_MD5 = select(blobs.c.md5).where(blobs.c.sha256 == bindparam("sha256"))
GET_FILE = select(files).where(
    files.c.tenant_id == bindparam("tenant_id"), files.c.id == bindparam("file_id")
)
EXISTING_FILE = select(files).where(
    files.c.tenant_id == bindparam("tenant_id"),
    files.c.sha256 == bindparam("sha256"),
    files.c.purpose == bindparam("purpose"),
)
_LIVE_KEY = select(api_keys.c.tenant_id, api_keys.c.id).where(api_keys.c.revoked_us.is_(None))
LIVE_KEY = _LIVE_KEY.where(api_keys.c.key_hash == bindparam("key_hash"))
KEY_BY_ID = _LIVE_KEY.where(
    api_keys.c.id == bindparam("key_id"), api_keys.c.tenant_id == bindparam("tenant_id")
)


# Tenants and keys ----------------------------------------------------------------------


def create_key(conn: Connection, tenant_name: str) -> tuple[str, str]:
    key = new_api_key()
    conn.execute(
        _insert(conn.dialect.name, tenants)
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
    row = _run(conn, LIVE_KEY, {"key_hash": key_hash}).fetchone()
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
    return _run(conn, stmt, params).fetchone()


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
    return [file_record(row) for row in _run(conn, stmt, params)]


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


def lock_blob(conn: Connection, sha256: str, md5: str | None, size: int) -> str | None:
    """Create the blob row if new, and lock it until the transaction ends; return the
    blob's md5 (None while it is pending).

    DO UPDATE (a no-op update), not DO NOTHING: it locks an existing row, so a concurrent
    release either finished first (and we insert the row anew) or waits for us. DO NOTHING
    leaves the row unlocked, and a release could delete it under us (seen under test on
    PostgreSQL). On SQLite the transaction's write lock does the same. A known md5 is
    never overwritten by a pending (NULL) one."""
    _run(
        conn,
        _lock_blob_stmt(conn.dialect.name),
        {"sha256": sha256, "md5": md5, "size": size, "created_us": now_us()},
    )
    if md5 is not None:
        return md5
    known: str | None = conn.execute(_BLOB_MD5, {"sha256": sha256}).scalar_one()
    return known


def store_blob_data(conn: Connection, sha256: str, data: bytes) -> None:
    """Keep a small blob's bytes in the database (its blob row must exist, locked)."""
    _run(conn, _insert_blob_data_stmt(conn.dialect.name), {"sha256": sha256, "data": data})


def get_blob_data(conn: Connection, sha256: str) -> bytes | None:
    """A blob's bytes if the database holds them, else None (they are in the blob store)."""
    data = conn.execute(_BLOB_DATA, {"sha256": sha256}).scalar_one_or_none()
    return None if data is None else bytes(data)


def blob_data_sizes(conn: Connection) -> dict[str, int]:
    """The size of every blob whose bytes the database holds (for fsck)."""
    q = select(blob_data.c.sha256, func.length(blob_data.c.data))
    return {sha: size for sha, size in conn.execute(q)}


def set_md5(conn: Connection, sha256: str, md5: str) -> None:
    """Record a blob's md5, computed after its upload, on the blob and every file of it."""
    conn.execute(
        update(blobs).where(blobs.c.sha256 == sha256, blobs.c.md5.is_(None)).values(md5=md5)
    )
    conn.execute(
        update(files).where(files.c.sha256 == sha256, files.c.md5.is_(None)).values(md5=md5)
    )


def pending_md5(
    conn: Connection, tenant_id: str | None, limit: int, before_us: int | None
) -> list[str]:
    """Blobs whose md5 is still to be computed: the tenant's, or (no tenant) every blob
    committed before ``before_us``."""
    if tenant_id is None:
        q = select(blobs.c.sha256).where(blobs.c.md5.is_(None))
        if before_us is not None:
            q = q.where(blobs.c.created_us < before_us)
    else:
        q = (
            select(files.c.sha256)
            .where(files.c.tenant_id == tenant_id, files.c.md5.is_(None))
            .distinct()
        )
    return list(conn.execute(q.limit(limit)).scalars())


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
        if _run(conn, _insert_file_stmt(conn.dialect.name), asdict(rec)).rowcount == 1:
            return rec, True
        found = existing_file(conn, rec.tenant_id, rec.sha256, rec.purpose)
        if found is not None:
            return found, False


def delete_file(conn: Connection, tenant_id: str, file_id: str) -> FileRecord | None:
    rec = get_file(conn, tenant_id, file_id)
    if rec is not None:
        conn.execute(delete(files).where(files.c.id == file_id))
    return rec


def lock_if_unreferenced(conn: Connection, sha256: str) -> bool:
    """Lock the blob row; True if it exists and no file references it."""
    locked = conn.execute(
        select(blobs.c.sha256).where(blobs.c.sha256 == sha256).with_for_update()
    ).first()
    if locked is None:
        return False
    refs = conn.execute(
        select(func.count()).select_from(files).where(files.c.sha256 == sha256)
    ).scalar_one()
    return refs == 0


def delete_blob_row(conn: Connection, sha256: str) -> None:
    """The blob row, and its bytes if the database holds them."""
    conn.execute(delete(blob_data).where(blob_data.c.sha256 == sha256))
    conn.execute(delete(blobs).where(blobs.c.sha256 == sha256))


def release_blob(conn: Connection, sha256: str, remove_bytes: Callable[[str], None]) -> bool:
    if not lock_if_unreferenced(conn, sha256):
        return False
    remove_bytes(sha256)
    delete_blob_row(conn, sha256)
    return True


def unreferenced_blobs(conn: Connection) -> list[str]:
    q = select(blobs.c.sha256).where(
        ~select(files.c.id).where(files.c.sha256 == blobs.c.sha256).exists()
    )
    return list(conn.execute(q).scalars())


def blob_rows(conn: Connection) -> list[tuple[str, str | None, int]]:
    return [tuple(r) for r in conn.execute(select(blobs.c.sha256, blobs.c.md5, blobs.c.size))]


# Presigned uploads ---------------------------------------------------------------------


def create_upload(conn: Connection, rec: UploadRecord) -> None:
    conn.execute(insert(uploads).values(**asdict(rec)))


def get_upload(conn: Connection, tenant_id: str, upload_id: str) -> UploadRecord | None:
    row = conn.execute(
        select(uploads).where(uploads.c.tenant_id == tenant_id, uploads.c.id == upload_id)
    ).first()
    return UploadRecord(**row._mapping) if row else None


def complete_upload(conn: Connection, upload_id: str, file_id: str) -> bool:
    res = conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.file_id.is_(None))
        .values(file_id=file_id)
    )
    return res.rowcount == 1


def fail_upload(conn: Connection, upload_id: str, status: int, message: str) -> bool:
    """Record why an upload's bytes were refused; False if it was finished already."""
    res = conn.execute(
        update(uploads)
        .where(
            uploads.c.id == upload_id,
            uploads.c.file_id.is_(None),
            uploads.c.error_status.is_(None),
        )
        .values(error_status=status, error_message=message[:2048])
    )
    return res.rowcount == 1


def expired_uploads(conn: Connection, now: int) -> list[UploadRecord]:
    rows = conn.execute(
        select(uploads).where(
            uploads.c.expires_us < now,
            uploads.c.file_id.is_(None),
            uploads.c.error_status.is_(None),
        )
    )
    return [UploadRecord(**r._mapping) for r in rows]


def delete_upload(conn: Connection, upload_id: str) -> None:
    conn.execute(delete(uploads).where(uploads.c.id == upload_id))
