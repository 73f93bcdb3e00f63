"""SQLite's hot statements run on the driver's cursor (queries.py): same answers as through
SQLAlchemy, inside the caller's transaction, and failures raised as SQLAlchemy's exceptions
(the server's error mapping and the loop's busy-read retry depend on their classes)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy
from sqlalchemy import func, select

from vlmfiles.server.errors import classify_backend_error
from vlmfiles.server.metadata import blob_queries, queries
from vlmfiles.server.metadata.engines import create_sqlite_engine
from vlmfiles.server.metadata.records import FileRecord, now_us
from vlmfiles.server.metadata.tables import blob_data, files, metadata
from vlmfiles.server.security import hash_api_key


@pytest.fixture
def engine(tmp_path):
    engine = create_sqlite_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _record(file_id: str, tenant: str, sha: str = "a" * 64) -> FileRecord:
    return FileRecord(
        id=file_id,
        tenant_id=tenant,
        sha256=sha,
        md5="b" * 32,
        bytes=3,
        purpose="assistants",
        filename="x.txt",
        content_type="text/plain",
        created_us=now_us(),
    )


def _upload(conn, rec: FileRecord, data: bytes) -> tuple[FileRecord, bool]:
    md5 = blob_queries.lock_blob(conn, rec.sha256, rec.md5, rec.bytes)
    result, created = queries.insert_file(conn, rec)
    if created:
        blob_queries.store_blob_data(conn, rec.sha256, data)
    assert md5 == rec.md5
    return result, created


def test_key_lookup_and_upload_writes_answer_as_through_sqlalchemy(engine):
    with engine.begin() as conn:
        key, tenant = queries.create_key(conn, "acme")
        assert queries.tenant_for_key_hash(conn, hash_api_key(key)) == tenant
        assert queries.tenant_for_key_hash(conn, hash_api_key(key + "x")) is None
        first, created = _upload(conn, _record("file-1", tenant), b"abc")
        assert created and first.id == "file-1"
        # The same bytes again for the same tenant and purpose: the first record.
        again, created = _upload(conn, _record("file-2", tenant), b"abc")
        assert not created and again.id == "file-1"
        assert queries.get_file(conn, tenant, "file-1") == first  # a record from a driver row
        assert queries.get_file(conn, "another tenant", "file-1") is None
        assert queries.revoke_key(conn, key) == 1
        assert queries.tenant_for_key_hash(conn, hash_api_key(key)) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(files)).scalar_one() == 1
        assert blob_queries.get_blob_data(conn, "a" * 64) == b"abc"


def test_driver_writes_roll_back_with_their_transaction(engine):
    with engine.begin() as conn:
        _, tenant = queries.create_key(conn, "acme")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        _upload(conn, _record("file-1", tenant), b"abc")
        raise RuntimeError("the commit fails after the writes")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(files)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(blob_data)).scalar_one() == 0


def test_a_driver_error_is_sqlalchemys_and_a_bug_is_no_503(engine):
    with engine.begin() as conn:
        _, tenant = queries.create_key(conn, "acme")
        _upload(conn, _record("file-1", tenant), b"abc")
    # A duplicate id is a bug, not an outage: IntegrityError, mapped to no 503 (a 500).
    with pytest.raises(sqlalchemy.exc.IntegrityError) as caught, engine.begin() as conn:
        queries.insert_file(conn, _record("file-1", tenant, sha="c" * 64))
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)
    assert "INSERT INTO files" in str(caught.value)
    assert classify_backend_error(caught.value) is None


def test_a_database_failure_is_sqlalchemys_operational_error_and_a_503(engine):
    # (A locked database, the common case, is covered in test_quick_reads: the loop's lookup
    # retries in a thread on exactly this exception class.)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE api_keys")
    with engine.connect() as conn, pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        queries.tenant_for_key_hash(conn, hash_api_key("some-key"))
    assert isinstance(caught.value.orig, sqlite3.OperationalError)
    assert "no such table: api_keys" in str(caught.value)
    mapped = classify_backend_error(caught.value)
    assert mapped is not None and mapped.status_code == 503
