"""PostgreSQL's connection pool when every connection is in use: the request waits, then is
a 503 the SDKs retry, not a 500 (a bug) that no one retries."""

from __future__ import annotations

import pytest
import sqlalchemy

from tests.support.postgres import fresh_database
from vlmfiles.server.errors import classify_backend_error
from vlmfiles.server.metadata import store as store_mod
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.security import hash_api_key


@pytest.fixture
def pg_url():
    with fresh_database() as url:
        upgrade(url)
        yield url


@pytest.mark.asyncio(loop_scope="function")
async def test_a_request_that_finds_no_free_connection_is_a_503(pg_url, monkeypatch):
    monkeypatch.setattr(store_mod, "POOL_TIMEOUT_SECONDS", 0.2)
    store = store_mod.MetadataStore(pg_url, pool_size=1)
    try:
        async with store.engine.connect():  # the pool's only connection, held
            with pytest.raises(sqlalchemy.exc.TimeoutError) as caught:
                await store.tenant_for_key_hash(hash_api_key("vk_unknown"))
        mapped = classify_backend_error(caught.value)
        assert mapped is not None and mapped.status_code == 503
        assert "busy" in mapped.message and mapped.headers == {"Retry-After": "5"}
        assert (
            await store.tenant_for_key_hash(hash_api_key("vk_unknown")) is None
        )  # free again: served
    finally:
        await store.close()
