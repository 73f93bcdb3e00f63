"""Listing at depth: fill one tenant with N file records, then time pages over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import time

import httpx


async def _fill(database_url: str, tenant_name: str, start: int, n: int) -> None:
    from sqlalchemy import insert, select

    from vlmfiles.server.metadata.store import MetadataStore
    from vlmfiles.server.metadata.tables import blobs, files, tenants

    store = MetadataStore.from_url(database_url)
    try:
        async with store.engine.begin() as conn:
            tenant_id = (
                await conn.execute(select(tenants.c.id).where(tenants.c.name == tenant_name))
            ).scalar_one()
        base = 1_700_000_000_000_000  # fixed, so a later fill continues the same order
        batch = 20_000
        for first in range(start, start + n, batch):
            blob_rows, file_rows = [], []
            for i in range(first, min(start + n, first + batch)):
                sha = hashlib.sha256(f"{tenant_name}-{i}".encode()).hexdigest()
                blob_rows.append({"sha256": sha, "md5": sha[:32], "size": 4096, "created_us": base})
                file_rows.append(
                    {
                        "id": f"file_{sha[:24]}",
                        "tenant_id": tenant_id,
                        "sha256": sha,
                        "md5": sha[:32],
                        "bytes": 4096,
                        "purpose": "datasets",
                        "filename": f"f{i}.bin",
                        "content_type": "application/octet-stream",
                        "created_us": base + i,
                    }
                )
            async with store.engine.begin() as conn:
                await conn.execute(insert(blobs), blob_rows)
                await conn.execute(insert(files), file_rows)
        if store.dialect == "postgresql":
            # What autovacuum does within a minute of a bulk load: without statistics the
            # planner picked a slow plan for the cursor query right after the fill.
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE files")
    finally:
        await store.close()


def fill(database_url: str, tenant_name: str, start: int, n: int) -> None:
    """Add ``n`` file records (numbers ``start`` .. ``start + n - 1``) to the tenant."""
    asyncio.run(_fill(database_url, tenant_name, start, n))


def _time(client: httpx.Client, params: dict, reps: int) -> tuple[float, float]:
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        r = client.get("/files", params=params)
        samples.append(time.perf_counter() - t)
        assert r.status_code == 200 and len(r.json()) == params["limit"], r.text[:200]
    samples.sort()
    return statistics.median(samples) * 1000, samples[
        min(len(samples) - 1, int(0.99 * len(samples)))
    ] * 1000


def measure(client: httpx.Client, n: int, reps: int = 50) -> dict[str, tuple[float, float]]:
    """p50/p99 ms for the first page, a page at depth n/2 by skip, and by cursor."""
    depth = n // 2
    cursor = client.get("/files", params={"skip": depth - 1, "limit": 1}).json()[0]["id"]
    return {
        "first page": _time(client, {"limit": 100}, reps),
        "deep page (skip)": _time(client, {"skip": depth, "limit": 100}, max(5, reps // 5)),
        "deep page (cursor)": _time(client, {"after": cursor, "limit": 100}, reps),
    }
