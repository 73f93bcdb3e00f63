"""A fresh PostgreSQL database per test session, on the server at VLMFILES_TEST_PG_URL.

CI (`.ci/run`) makes sure that server is up; the tests fail, never skip, when it is not."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("VLMFILES_TEST_PG_URL", DEFAULT)


async def _connect(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database=u.database,
    )


async def _execute(url: str, sql: str) -> None:
    conn = await _connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def fetch(url: str, sql: str) -> list[asyncpg.Record]:
    """The rows of ``sql`` on the database at ``url``."""

    async def go() -> list[asyncpg.Record]:
        conn = await _connect(url)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return asyncio.run(go())


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    base = admin_url()
    name = f"vlmfiles_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_execute(base, f'CREATE DATABASE "{name}"'))
    except OSError as exc:  # refused, unreachable: one line that says how to go on
        import pytest

        pytest.exit(
            f"PostgreSQL is not reachable at {make_url(base).render_as_string()} ({exc}). "
            "Start it, or set VLMFILES_TEST_PG_URL, or test the embedded stack only: "
            "VLMFILES_TEST_STACKS=embedded .venv/bin/pytest",
            returncode=1,
        )
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
