"""The metadata schema (SQLAlchemy Core), one for SQLite and PostgreSQL.

Times are integer microseconds since the epoch (UTC): the same on both databases, and the
listing order ``(created_us DESC, id DESC)`` is then a plain index scan.

Blob lifetime is decided here, not by timing: ``files.sha256`` references ``blobs``; an
upload commits its bytes and its file row while holding the blob row's lock, and a blob is
released only under that lock when no file row references it (see ``store.commit_upload``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger, nullable=True),
)

# md5 is NULL for a moment after a large upload: it is computed after the upload is answered
# (see service.Md5Filler); the partial index finds those rows without a scan.
blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("md5", String(32), nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
)
Index(
    "ix_blobs_md5_pending",
    blobs.c.sha256,
    sqlite_where=blobs.c.md5.is_(None),
    postgresql_where=blobs.c.md5.is_(None),
)

# The bytes of small blobs (``Settings.inline_max_bytes``), kept in the metadata database
# instead of the blob store, written in the transaction that commits their record: no file
# to create, fsync and rename, no object-store request, and nothing that can be orphaned.
# A blob's bytes are here, or in the blob store, or (uploaded under a different setting)
# both; a reader looks here first. Released with the blob row.
blob_data = Table(
    "blob_data",
    metadata,
    Column("sha256", String(64), ForeignKey("blobs.sha256"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("sha256", String(64), ForeignKey("blobs.sha256"), nullable=False),
    Column("md5", String(32), nullable=True),  # NULL while its blob's md5 is pending
    Column("bytes", BigInteger, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("filename", String(1024), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    # De-duplication is enforced here: one record per tenant, content and purpose.
    UniqueConstraint("tenant_id", "sha256", "purpose", name="uq_files_tenant_sha256_purpose"),
    Index("ix_files_tenant_order", "tenant_id", "created_us", "id"),
    Index("ix_files_tenant_purpose_order", "tenant_id", "purpose", "created_us", "id"),
    Index("ix_files_tenant_md5", "tenant_id", "md5"),
    Index("ix_files_sha256", "sha256"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("filename", String(1024), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False, index=True),
    # Set once the bytes are in: the file the upload became (its own id, or the
    # de-duplicated record's).
    Column("file_id", String(40), nullable=True),
    # Or, set when the bytes were refused (type, emptiness): what verify-upload answers.
    Column("error_status", Integer, nullable=True),
    Column("error_message", String(2048), nullable=True),
)
