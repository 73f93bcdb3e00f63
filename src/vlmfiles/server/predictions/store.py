"""The ``predictions`` table (SQLAlchemy Core): the durable record of every job.

The broker only carries a prediction's id; everything else is here, so a job lost by an
in-memory broker is found again at start (``unfinished``). Completion is one conditional
update (``finish``): a job delivered twice completes once.

Times are integer microseconds since the epoch (UTC), like the files table's.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from ..metadata.engines import create_engine

FINAL = ("completed", "failed")
UNFINISHED = ("enqueued", "pending", "running")

metadata = MetaData()

predictions = Table(
    "predictions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(32), nullable=False),
    Column("domain", String(200), nullable=False),
    Column("model", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("started_us", BigInteger, nullable=True),
    Column("completed_us", BigInteger, nullable=True),
    Column("response", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("usage", JSON, nullable=True),
    Column("inputs", JSON, nullable=False),
    Column("config", JSON, nullable=True),
    Column("request_metadata", JSON, nullable=True),
    Column("callback_url", String(2048), nullable=True),
    Column("engine", String(200), nullable=True),
    Column("attempts", Integer, nullable=False),
    # The callback_url's delivery: pending|delivered|failed (null: none), and each attempt.
    Column("callback_status", String(16), nullable=True),
    Column("callback_attempts", JSON, nullable=True),
)

# What a prediction's JSON needs: everything but its inputs (base64 images can be large).
_PUBLIC = [c for c in predictions.c if c.name not in ("inputs", "config", "request_metadata")]


def new_prediction_id() -> str:
    return "pred_" + secrets.token_hex(12)


def now_us() -> int:
    return time.time_ns() // 1000


class PredictionStore:
    """Short transactions, one statement each where it can (SQLite has one writer)."""

    def __init__(self, engine: AsyncEngine, *, owned: bool = False) -> None:
        self.engine = engine
        self.owned = owned  # disposed by ``close``; else it is the file store's engine

    @classmethod
    def from_url(cls, url: str, pool_size: int = 5) -> PredictionStore:
        return cls(create_engine(url, pool_size), owned=True)

    async def close(self) -> None:
        if self.owned:
            await self.engine.dispose()

    async def _write(self, stmt: Any) -> int:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(vlmfiles_write=True)  # SQLite: BEGIN IMMEDIATE
            async with conn.begin():
                result = await conn.execute(stmt)
        return int(result.rowcount)

    async def create(self, row: dict[str, Any]) -> None:
        await self._write(predictions.insert().values(**row))

    async def get(self, tenant_id: str | None, pred_id: str) -> RowMapping | None:
        """The prediction's public columns (``tenant_id`` None: any tenant's, for workers)."""
        stmt = select(*_PUBLIC).where(predictions.c.id == pred_id)
        if tenant_id is not None:
            stmt = stmt.where(predictions.c.tenant_id == tenant_id)
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).mappings().first()

    async def job(self, pred_id: str) -> RowMapping | None:
        """Everything a worker needs to run the job."""
        async with self.engine.connect() as conn:
            stmt = select(predictions).where(predictions.c.id == pred_id)
            return (await conn.execute(stmt)).mappings().first()

    async def page(self, tenant_id: str, skip: int, limit: int) -> Sequence[RowMapping]:
        stmt = (
            select(*_PUBLIC)
            .where(predictions.c.tenant_id == tenant_id)
            .order_by(predictions.c.created_us.desc(), predictions.c.id.desc())
            .offset(skip)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).mappings().all()

    async def claim(self, pred_id: str) -> bool:
        """Mark the job running for one more attempt; False if it already ended."""
        stmt = (
            update(predictions)
            .where(predictions.c.id == pred_id, predictions.c.status.in_(UNFINISHED))
            .values(
                status="running",
                started_us=func.coalesce(predictions.c.started_us, now_us()),
                attempts=predictions.c.attempts + 1,
            )
        )
        return await self._write(stmt) == 1

    async def set_status(self, pred_id: str, status: str) -> None:
        stmt = (
            update(predictions)
            .where(predictions.c.id == pred_id, predictions.c.status.in_(UNFINISHED))
            .values(status=status)
        )
        await self._write(stmt)

    async def finish(
        self,
        pred_id: str,
        *,
        status: str,
        response: dict[str, Any] | None,
        usage: dict[str, Any],
        engine: str | None,
        error: str | None = None,
    ) -> bool:
        """Record the outcome, once: False if another delivery of the job recorded it."""
        stmt = (
            update(predictions)
            .where(predictions.c.id == pred_id, predictions.c.status.in_(UNFINISHED))
            .values(
                status=status,
                response=response,
                usage=usage,
                engine=engine,
                error=error,
                completed_us=now_us(),
            )
        )
        return await self._write(stmt) == 1

    async def callback_pending(self, pred_id: str, *, untried: bool = False) -> bool:
        """True if the prediction ended and its callback is still to be delivered
        (``untried``: and no attempt was made yet, so no chain of attempts is under way)."""
        stmt = select(predictions.c.id).where(
            predictions.c.id == pred_id,
            predictions.c.status.in_(FINAL),
            predictions.c.callback_status == "pending",
        )
        if untried:
            stmt = stmt.where(predictions.c.callback_attempts.is_(None))
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def record_callback(
        self, pred_id: str, attempts: list[dict[str, Any]], status: str
    ) -> bool:
        """Store the attempts made so far and the delivery's status; False if it was no
        longer pending (another delivery of the message recorded its end)."""
        stmt = (
            update(predictions)
            .where(predictions.c.id == pred_id, predictions.c.callback_status == "pending")
            .values(callback_attempts=attempts, callback_status=status)
        )
        return await self._write(stmt) == 1

    async def callbacks_pending(self) -> list[str]:
        """Ended predictions whose callback is still to be delivered (resent at start)."""
        stmt = (
            select(predictions.c.id)
            .where(predictions.c.status.in_(FINAL), predictions.c.callback_status == "pending")
            .order_by(predictions.c.completed_us)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())

    async def unfinished(self) -> list[str]:
        stmt = (
            select(predictions.c.id)
            .where(predictions.c.status.in_(UNFINISHED))
            .order_by(predictions.c.created_us)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())
