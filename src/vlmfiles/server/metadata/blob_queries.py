"""The SQL of blobs and uploads: an upload's commit (the blob row locked, small files'
bytes kept, ``commit_stmt`` for PostgreSQL), md5s filled in later, releasing a blob no file
references, and presigned upload records. Tenants, keys and file records are in queries.py,
with how a statement runs (``run``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import (
    Connection,
    LargeBinary,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from .queries import LIVE_KEYS, dialect_insert, run
from .records import UploadRecord, now_us
from .tables import api_keys, blob_data, blobs, files, uploads


@functools.cache
def _lock_blob_stmt(dialect_name: str) -> Any:
    stmt = dialect_insert(dialect_name, blobs)
    return stmt.on_conflict_do_update(
        index_elements=["sha256"], set_={"md5": func.coalesce(blobs.c.md5, stmt.excluded.md5)}
    )


@functools.cache
def _insert_blob_data_stmt(dialect_name: str) -> Any:
    # DO NOTHING: the bytes of a sha256 are the same bytes, whoever stored them first.
    return dialect_insert(dialect_name, blob_data).on_conflict_do_nothing(index_elements=["sha256"])


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
    live_key = or_(key_hash.is_(None), exists(LIVE_KEYS.where(api_keys.c.key_hash == key_hash)))
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


# Blobs ---------------------------------------------------------------------------------


def lock_blob(conn: Connection, sha256: str, md5: str | None, size: int) -> str | None:
    """Create the blob row if new, and lock it until the transaction ends; return the
    blob's md5 (None while it is pending).

    DO UPDATE (a no-op update), not DO NOTHING: it locks an existing row, so a concurrent
    release either finished first (and we insert the row anew) or waits for us. DO NOTHING
    leaves the row unlocked, and a release could delete it under us (seen under test on
    PostgreSQL). On SQLite the transaction's write lock does the same. A known md5 is
    never overwritten by a pending (NULL) one."""
    run(
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
    run(conn, _insert_blob_data_stmt(conn.dialect.name), {"sha256": sha256, "data": data})


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
