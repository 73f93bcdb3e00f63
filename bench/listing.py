"""Listing at depth: fill one tenant with N file records, then time pages over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import time

import httpx


async def _fill(database_url: str, tenant_name: str, start: int, n: int) -> None:
    from sqlalchemy import insert, select

    from vlmfiles.server.metadata.store import open_metadata_store
    from vlmfiles.server.metadata.tables import blobs, files, tenants

    store = open_metadata_store(database_url)
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
        if store.engine.dialect.name == "postgresql":
            # What autovacuum does within a minute of a bulk load: without statistics the
            # planner picked a slow plan for the cursor query right after the fill.
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE files")
    finally:
        await store.close()


def fill(database_url: str, tenant_name: str, start: int, n: int) -> None:
    """Add ``n`` file records (numbers ``start`` .. ``start + n - 1``) to the tenant."""
    asyncio.run(_fill(database_url, tenant_name, start, n))


def _get(client: httpx.Client, params: dict) -> float:
    t = time.perf_counter()
    r = client.get("/files", params=params)
    elapsed = time.perf_counter() - t
    assert r.status_code == 200 and len(r.json()) == params["limit"], r.text[:200]
    return elapsed


def _stats(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return statistics.median(samples) * 1000, p99 * 1000


def measure(client: httpx.Client, n: int, reps: int = 200) -> dict[str, tuple[float, float]]:
    """p50/p99 ms for the first page, a page at depth n/2 by skip, and by cursor.

    200 samples, so a p99 is not the one slowest request (with 50 it was: one stall of the
    database right after the bulk fill showed as a p99 of 89 ms against a p50 of 4 ms). The
    first page and the cursor page take turns, so a stall of the (shared) machine falls on
    both: their p99s are compared."""
    depth = n // 2
    cursor = client.get("/files", params={"skip": depth - 1, "limit": 1}).json()[0]["id"]
    first: list[float] = []
    deep: list[float] = []
    for _ in range(reps):
        first.append(_get(client, {"limit": 100}))
        deep.append(_get(client, {"after": cursor, "limit": 100}))
    skip = [_get(client, {"skip": depth, "limit": 100}) for _ in range(max(5, reps // 10))]
    return {
        "first page": _stats(first),
        "deep page (skip)": _stats(skip),
        "deep page (cursor)": _stats(deep),
    }
