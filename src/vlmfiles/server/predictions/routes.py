"""The predictions API under /v1: each handler parses, calls the service, shapes the answer."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..auth import require_tenant
from ..errors import BadRequest, PayloadTooLarge
from ..models import ERRORS
from ..responses import JSONResponse
from . import schemas
from .callbacks import tenant_secret
from .service import PredictionService
from .wire import prediction_json

router = APIRouter(prefix="/v1", responses=ERRORS, default_response_class=JSONResponse)  # type: ignore[arg-type]
Tenant = Annotated[str, Depends(require_tenant)]
M = TypeVar("M", bound=BaseModel)

DEFAULT_MODEL = "vlm-1"


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")  # fields the platform has and we ignore

    model: str = DEFAULT_MODEL
    domain: str | None = None
    batch: bool = False
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    callback_url: str | None = Field(
        None,
        description="An http(s) URL POSTed the prediction's JSON once it ends, signed with "
        "the secret of `GET /v1/webhooks/secret`; `callback` on the prediction shows each "
        "attempt.",
    )


class ImageGenerate(_Body):
    images: list[str] | None = None
    urls: list[str] | None = None


class FileGenerate(_Body):
    file_id: str | None = None
    url: str | None = None


class SchemaRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    domain: str
    config: dict[str, Any] | None = None
    gql_stmt: str | None = None


def prediction_service(request: Request) -> PredictionService:
    service: PredictionService = request.app.state.predictions
    return service


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body, read up to ``max_inline_input_bytes`` (base64 images arrive in it)."""
    cap = request.app.state.service.settings.max_inline_input_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(
            f"The request body is {declared} bytes; the limit is {cap} bytes "
            "(VLMFILES_MAX_INLINE_INPUT_BYTES). Upload large inputs with POST /v1/files "
            "and send their file_id."
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(
                f"The request body is over the limit of {cap} bytes "
                "(VLMFILES_MAX_INLINE_INPUT_BYTES); send large inputs by file_id."
            )
        chunks.append(chunk)
    try:
        return model.model_validate_json(b"".join(chunks) or b"{}")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def _submit(
    request: Request, tenant: str, body: _Body, route: str, inputs: list[Any]
) -> JSONResponse:
    svc = prediction_service(request)
    row = await svc.submit(
        tenant,
        svc.check_domain(body.domain, route, body.config),
        inputs,
        model=body.model,
        batch=body.batch,
        config=body.config,
        metadata=body.metadata,
        callback_url=body.callback_url,
    )
    return JSONResponse(prediction_json(row))


@router.post("/image/generate", summary="Run a prediction on images")
async def image_generate(request: Request, tenant: Tenant) -> JSONResponse:
    body = await read_body(request, ImageGenerate)
    svc = prediction_service(request)
    svc.check_domain(body.domain, "image", body.config)
    if bool(body.images) == bool(body.urls):
        raise BadRequest("Send exactly one of 'images' (base64 data URLs) or 'urls', non-empty.")
    items = body.images or body.urls or []
    inputs = [await svc.url_input(tenant, u, f"images[{n}]") for n, u in enumerate(items)]
    return await _submit(request, tenant, body, "image", inputs)


async def _file_generate(request: Request, tenant: str, route: str) -> JSONResponse:
    body = await read_body(request, FileGenerate)
    svc = prediction_service(request)
    svc.check_domain(body.domain, route, body.config)
    if bool(body.file_id) == bool(body.url):
        raise BadRequest("Send exactly one of 'file_id' (from POST /v1/files) or 'url'.")
    if body.file_id:
        item = await svc.file_input(tenant, body.file_id)
    else:
        assert body.url is not None
        item = await svc.url_input(tenant, body.url, "url")
    return await _submit(request, tenant, body, route, [item])


@router.post("/document/generate", summary="Run a prediction on a document")
async def document_generate(request: Request, tenant: Tenant) -> JSONResponse:
    return await _file_generate(request, tenant, "document")


@router.post("/audio/generate", summary="Audio predictions (no engine here serves audio)")
async def audio_generate(request: Request, tenant: Tenant) -> JSONResponse:
    return await _file_generate(request, tenant, "audio")


@router.post("/video/generate", summary="Video predictions (no engine here serves video)")
async def video_generate(request: Request, tenant: Tenant) -> JSONResponse:
    return await _file_generate(request, tenant, "video")


@router.get("/predictions/{pred_id}", summary="A prediction")
async def get_prediction(request: Request, tenant: Tenant, pred_id: str) -> JSONResponse:
    return JSONResponse(prediction_json(await prediction_service(request).get(tenant, pred_id)))


@router.get("/predictions", summary="Predictions, newest first (a bare array)")
async def list_predictions(
    request: Request,
    tenant: Tenant,
    skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> JSONResponse:
    rows = await prediction_service(request).page(tenant, skip, limit)
    return JSONResponse([prediction_json(r) for r in rows])


@router.get("/domains", summary="The domains this server's engines serve")
async def list_domains(request: Request, tenant: Tenant) -> JSONResponse:
    served = prediction_service(request).engines.domains
    return JSONResponse([{"domain": d, "description": served[d]} for d in sorted(served)])


@router.get("/models", summary="Models and the domains they serve")
async def list_models(request: Request, tenant: Tenant) -> JSONResponse:
    served = prediction_service(request).engines.domains
    return JSONResponse([{"model": DEFAULT_MODEL, "domain": d} for d in sorted(served)])


@router.post("/schema", summary="A domain's JSON schema")
async def get_schema(request: Request, tenant: Tenant) -> JSONResponse:
    body = await read_body(request, SchemaRequest)
    served = prediction_service(request).engines.domains
    return JSONResponse(schemas.schema_response(body.domain, served, body.config))


@router.get("/hub/info", summary="The schema hub's version")
async def hub_info(tenant: Tenant) -> JSONResponse:
    return JSONResponse({"version": schemas.hub_version()})


@router.get("/hub/domains", summary="The schema hub's domains")
async def hub_domains(tenant: Tenant) -> JSONResponse:
    return JSONResponse(schemas.hub_domains())


@router.post("/hub/schema", summary="A hub domain's JSON schema")
async def hub_schema(request: Request, tenant: Tenant) -> JSONResponse:
    body = await read_body(request, SchemaRequest)
    return JSONResponse(schemas.schema_response(body.domain, {}, body.config, body.gql_stmt))


@router.get("/webhooks/secret", summary="The secret callback deliveries are signed with")
async def webhook_secret(request: Request, tenant: Tenant) -> JSONResponse:
    secret = request.app.state.service.signer.secret
    return JSONResponse({"secret": tenant_secret(secret, tenant)})
