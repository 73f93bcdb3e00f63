"""Feedback: a user's correction (``response``) or note about one of their predictions,
stored next to it (migration 0007), so the official SDK's ``client.feedback`` calls work.

Feedback is only ever added and read: a prediction keeps every correction, newest first.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, BigInteger, Column, MetaData, String, Table, Text, select

from ..auth import require_tenant
from ..errors import BadRequest, NotFound
from ..models import ERRORS
from ..responses import JSONResponse
from .routes import prediction_service, read_body
from .store import now_us
from .wire import iso

MAX_NOTES = 10_000  # characters: a note, not a document

metadata = MetaData()

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(32), nullable=False),
    Column("request_id", String(40), nullable=False),
    Column("response", JSON, nullable=True),
    Column("notes", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
)

router = APIRouter(prefix="/v1", responses=ERRORS, default_response_class=JSONResponse)  # type: ignore[arg-type]
Tenant = Annotated[str, Depends(require_tenant)]


class FeedbackSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str
    response: Any = None
    notes: str | None = None


def _item(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created_at": iso(row["created_us"]),
        "response": row["response"],
        "notes": row["notes"],
    }


@router.post("/feedback/submit", status_code=201, summary="Store feedback on a prediction")
async def submit_feedback(request: Request, tenant: Tenant) -> JSONResponse:
    body = await read_body(request, FeedbackSubmit)
    if body.response is None and not body.notes:
        raise BadRequest(
            "Feedback needs `response` (the corrected result, any JSON) or `notes` (text), "
            "or both; this request had neither."
        )
    if body.notes is not None and len(body.notes) > MAX_NOTES:
        raise BadRequest(f"`notes` is {len(body.notes)} characters; the limit is {MAX_NOTES}.")
    svc = prediction_service(request)
    await svc.get(tenant, body.request_id)  # 404 unless it is this tenant's prediction
    row = {
        "id": "fb_" + secrets.token_hex(12),
        "tenant_id": tenant,
        "request_id": body.request_id,
        "response": body.response,
        "notes": body.notes,
        "created_us": now_us(),
    }
    async with svc.store.engine.connect() as conn:
        conn = await conn.execution_options(vlmfiles_write=True)  # SQLite: BEGIN IMMEDIATE
        async with conn.begin():
            await conn.execute(feedback.insert().values(**row))
    return JSONResponse(
        {"id": row["id"], "request_id": row["request_id"], "created_at": iso(row["created_us"])},
        status_code=201,
    )


@router.get("/feedback/{request_id}", summary="The feedback stored on a prediction")
async def get_feedback(
    request: Request,
    tenant: Tenant,
    request_id: str,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> JSONResponse:
    svc = prediction_service(request)
    try:
        await svc.get(tenant, request_id)
    except NotFound:
        raise NotFound(f"No prediction with id {request_id!r}, so no feedback on it.") from None
    stmt = (
        select(feedback)
        .where(feedback.c.tenant_id == tenant, feedback.c.request_id == request_id)
        .order_by(feedback.c.created_us.desc(), feedback.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    async with svc.store.engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return JSONResponse({"request_id": request_id, "items": [_item(r) for r in rows]})
