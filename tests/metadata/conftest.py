"""Fixtures for the metadata store suite: one ``store`` per backend, on a fresh database.

Every test here runs against both ``SqliteStore`` and ``PostgresStore``: what the service
relies on holds for both, whatever each does to be fast."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import sqlalchemy
from sqlalchemy import func, select

from tests.support.postgres import fresh_database
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.metadata.records import FileRecord, now_us
from vlmfiles.server.metadata.store import MetadataStore, open_metadata_store


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
        upgrade(url)
        yield url
        return
    with fresh_database() as url:
        upgrade(url)
        yield url


# The stores run in each test's own event loop (the project's default for async fixtures is
# the session's): an asyncpg connection belongs to the loop that opened it.
@pytest_asyncio.fixture(loop_scope="function")
async def store(database_url: str) -> AsyncIterator[MetadataStore]:
    store = open_metadata_store(database_url)
    yield store
    await store.close()


def record(
    file_id: str,
    tenant: str,
    data: bytes,
    purpose: str = "assistants",
    created_us: int | None = None,
) -> FileRecord:
    return FileRecord(
        id=file_id,
        tenant_id=tenant,
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        bytes=len(data),
        purpose=purpose,
        filename="x.txt",
        content_type="text/plain",
        created_us=now_us() if created_us is None else created_us,
    )


async def count(store: MetadataStore, table: sqlalchemy.Table) -> int:
    async with store.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()
