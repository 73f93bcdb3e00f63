"""Alembic environment: runs migrations over the async engine (aiosqlite or asyncpg)."""

from __future__ import annotations

import asyncio

from alembic import context

from vlmfiles.server.metadata.engines import create_engine
from vlmfiles.server.metadata.tables import metadata

config = context.config


def _run(sync_conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=sync_conn,
        target_metadata=metadata,
        render_as_batch=sync_conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(config.attributes["database_url"])
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `vlmfiles db upgrade`")
asyncio.run(_main())
