"""The /v1 routes. Each handler parses, calls one service method, and shapes the answer."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from ..._protocol import SHA256_HEADER
from ..._units import human_bytes
from ..auth import require_tenant, upload_tenant
from ..download import file_response
from ..errors import ApiError, BadRequest, PayloadTooLarge, Unauthorized
from ..metadata.records import FileRecord, RevokedKey
from ..models import ERRORS, FileObject, HealthObject, PresignedUrlObject, PresignedUrlRequest
from ..responses import JSONResponse
from ..service import FileService

router = APIRouter(prefix="/v1", responses=ERRORS, default_response_class=JSONResponse)  # type: ignore[arg-type]
Tenant = Annotated[str, Depends(require_tenant)]

MULTIPART_OVERHEAD = 64 * 1024


def _service(request: Request) -> FileService:
    service: FileService = request.app.state.service
    return service


def _file_json(request: Request, rec: FileRecord) -> dict[str, Any]:
    """A file's JSON, its URL signed for the request's API key (``auth.require_tenant``)."""
    return _service(request).file_json(rec, request.state.key_id)


def _check_declared_length(request: Request, file_limit: int, overhead: int = 0) -> None:
    """Refuse at once a body whose declared length is already over the file size limit
    (plus ``overhead`` for the multipart framing around the file)."""
    raw = request.headers.get("content-length")
    if raw is None:
        return
    if not raw.isdigit():
        raise BadRequest(f"Content-Length must be a non-negative integer, got {raw!r}.")
    if int(raw) > file_limit + overhead:
        raise PayloadTooLarge(
            f"File too large: the request is {human_bytes(int(raw))}, over this server's "
            f"limit of {human_bytes(file_limit)} per file; nothing was stored."
        )


@router.get("/health", response_model=HealthObject, summary="Check the API key")
async def health(request: Request, response: Response, tenant: Tenant) -> dict[str, str]:
    # Tells our SDK whether a file's sha256 may follow its bytes (``any``) or is better sent
    # first (``first``: the S3 store then writes the bytes straight under their final key).
    first = _service(request).blobs.wants_sha256_first
    response.headers[SHA256_HEADER] = "first" if first else "any"
    return {"status": "ok", "tenant": tenant}


class PlainRoute(APIRoute):
    """A route whose endpoint takes the ``Request`` and is called as it is: documented from
    its declaration like any route, without FastAPI's per-request dependency solving and
    response handling. For the upload, which small uploads keep CPU-bound."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


async def upload_file(request: Request) -> JSONResponse:
    # The key may come from the recently used ones (auth.RecentKeys): the commit checks it.
    tenant, key_hash = await upload_tenant(request)
    service = _service(request)
    _check_declared_length(request, service.settings.max_file_size, MULTIPART_OVERHEAD)
    try:
        rec, created = await service.upload_multipart(
            tenant,
            request.stream(),
            request.headers.get("content-type"),
            request.query_params.get("purpose"),
            key_hash,
        )
    except RevokedKey:
        request.app.state.recent_keys.forget(key_hash)
        raise Unauthorized(
            "This API key was revoked before the upload could be stored; nothing was stored. "
            "Create a key with `vlmfiles keys create`."
        ) from None
    return JSONResponse(
        _file_json(request, rec),
        status_code=201,
        headers={"X-Deduplicated": "false" if created else "true"},
    )


router.add_api_route(
    "/files",
    upload_file,
    methods=["POST"],
    route_class_override=PlainRoute,
    status_code=201,
    response_model=FileObject,
    summary="Upload a file (multipart/form-data, part 'file')",
    openapi_extra={
        "parameters": [
            {
                "name": "purpose",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "Default: assistants",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "purpose": {"type": "string"},
                        },
                    }
                }
            },
        },
    },
)


@router.get("/files", response_model=list[FileObject], summary="List files, newest first")
async def list_files(
    request: Request,
    tenant: Tenant,
    skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, description="At most the server's list_max_limit")] = 10,
    purpose: str | None = None,
    after: Annotated[str | None, Query(description="Cursor: a file id from the last page")] = None,
) -> JSONResponse:
    service = _service(request)
    recs = await service.list(tenant, purpose=purpose, skip=skip, limit=limit, after=after)
    return JSONResponse([_file_json(request, r) for r in recs])


@router.get(
    "/files/hash/{digest}", response_model=FileObject, summary="Find a file by md5 or sha256"
)
async def file_by_hash(
    request: Request, tenant: Tenant, digest: str, purpose: str | None = None
) -> JSONResponse:
    rec = await _service(request).find_by_hash(tenant, digest, purpose)
    return JSONResponse(_file_json(request, rec))


@router.post(
    "/files/presigned-url", response_model=PresignedUrlObject, summary="Start an upload by URL"
)
async def presigned_url(
    request: Request, tenant: Tenant, body: PresignedUrlRequest
) -> JSONResponse:
    return JSONResponse(
        await _service(request).presigned.create(
            tenant,
            request.state.key_id,
            body.filename,
            body.purpose,
            body.expiration,
            body.content_type,
        )
    )


@router.get(
    "/files/verify-upload/{upload_id}", response_model=FileObject, summary="Finish an upload by URL"
)
async def verify_upload(request: Request, tenant: Tenant, upload_id: str) -> JSONResponse:
    return JSONResponse(
        _file_json(request, await _service(request).presigned.verify(tenant, upload_id))
    )


@router.get("/files/{file_id}", response_model=FileObject, summary="Get a file's metadata")
async def get_file(request: Request, tenant: Tenant, file_id: str) -> JSONResponse:
    return JSONResponse(_file_json(request, await _service(request).get(tenant, file_id)))


@router.delete("/files/{file_id}", response_model=FileObject, summary="Delete a file")
async def delete_file(request: Request, tenant: Tenant, file_id: str) -> JSONResponse:
    return JSONResponse(_file_json(request, await _service(request).delete(tenant, file_id)))


# One route per method: a route with both gave HEAD the GET operation's id in the document.
@router.get(
    "/files/{file_id}/content",
    summary="Download a file (API key, or a signed URL's query)",
    response_class=Response,
)
@router.head(
    "/files/{file_id}/content",
    summary="A file download's headers, no body",
    response_class=Response,
)
async def file_content(
    request: Request,
    file_id: str,
    tenant: str | None = None,
    key: str | None = None,
    expires: str | None = None,
    signature: str | None = None,
) -> Response:
    service = _service(request)
    if signature is not None or expires is not None or tenant is not None or key is not None:
        await service.check_signature(
            "GET", tenant or "", key or "", file_id, expires or "", signature or ""
        )
        owner = tenant or ""
    else:
        owner = await require_tenant(request)
    return await file_response(request, service, await service.get(owner, file_id))


@router.put(
    "/uploads/{upload_id}", response_model=FileObject, summary="PUT the bytes of an upload by URL"
)
async def put_upload(
    request: Request,
    upload_id: str,
    tenant: str = "",
    key: str = "",
    expires: str = "",
    signature: str = "",
) -> JSONResponse:
    service = _service(request)
    await service.check_signature("PUT", tenant, key, upload_id, expires, signature)
    request.state.key_id = key  # the file's URL is signed for the key that signed this one
    _check_declared_length(request, service.settings.max_file_size)
    result = await service.presigned.receive(tenant, upload_id, request.stream())
    if isinstance(result, ApiError):
        # The bytes were received; GET /v1/files/verify-upload/{id} reports the refusal.
        return JSONResponse(
            {
                "id": upload_id,
                "object": "upload",
                "status": "refused",
                "error": {"message": result.message, "type": result.type},
            }
        )
    return JSONResponse(_file_json(request, result[0]))
