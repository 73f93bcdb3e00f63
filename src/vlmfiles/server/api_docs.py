"""The API's reference: ``/openapi.json`` told true, and ``/docs`` served without a CDN.

FastAPI's generated document says what its framework would do, not what this server does:
a 422 ``HTTPValidationError`` where we answer 400, every error code on every operation, a
free-text ``purpose``, no way to send the key. The generated document is corrected here
from one table, ``OPERATIONS`` (what each operation may answer and why), so the routes stay
thin. ``tests/reliability/test_fuzz.py`` runs schemathesis with every check against a real
server on both stacks: an answer the document does not allow fails it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Match
from starlette.staticfiles import StaticFiles

from .._protocol import PURPOSES
from .predictions.openapi import prediction_bodies
from .settings import Settings

ASSETS = "/docs/assets"
BEARER: list[dict[str, list[str]]] = [{"apiKey": []}]
HEX_DIGEST = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$"
SHA256 = "^[0-9a-fA-F]{64}$"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class Operation:
    description: str
    errors: dict[int, str] = field(default_factory=dict)
    security: list[dict[str, list[str]]] = field(default_factory=lambda: BEARER)


UNAVAILABLE = "A backing service is unavailable; retry after Retry-After seconds"
COMMON = {401: "Missing, invalid or revoked API key", 503: UNAVAILABLE}
CONTENT = Operation(
    "The file's bytes, with the API key or with a signed URL's `tenant`, `key`, `expires` "
    "and `signature` (all four; then no key). Served with its detected type, `ETag` and "
    "`Accept-Ranges: bytes`; a `Range` request gets 206, a matching `If-None-Match` or "
    "`If-Modified-Since` 304.",
    {
        **COMMON,
        400: "A signed URL's parameters incomplete or malformed",
        403: "Signed URL invalid or expired, or its key revoked",
        404: "No such file for this tenant",
        416: "The Range lies outside the file",
    },
    security=[{"apiKey": []}, {}],
)
NOT_MODIFIED = {"description": "Not modified: the `ETag` or date the request gave is current"}
GENERATE = {
    **COMMON,
    400: "Invalid body, a domain this server does not serve for the route, or an input "
    "or a `callback_url` that cannot be used (says which and what is accepted)",
    404: "A `file_id` (or a URL of this server's) naming no file of the key's tenant",
    413: "The request body over the inline limit: upload large inputs and send their file_id",
}
SCHEMA = {
    **COMMON,
    400: "Invalid body or an unknown domain (says the known ones)",
    413: "The request body over the inline limit",
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("get", "/v1/health"): Operation(
        "Check that the API key works. The `Vlmfiles-Upload-Sha256` header tells clients "
        "whether a file's sha256 is best sent before its bytes (`first`) or may follow them.",
        COMMON,
    ),
    ("post", "/v1/files"): Operation(
        "Upload one file as `multipart/form-data`: the part `file`, and optionally the "
        "fields `purpose` (or the query parameter) and `sha256`. The type is detected from "
        "the bytes and must be one the purpose accepts. The same bytes uploaded again for "
        "the same purpose return the stored file (`X-Deduplicated: true`).",
        {
            **COMMON,
            400: "Empty file, malformed multipart body, unknown purpose or bad sha256 field",
            409: "Another upload of the same file committed at the same moment; retry",
            413: "File larger than the server's limit (the message says the limit)",
            415: "File type not accepted for this purpose (says what was detected)",
            507: "The server's storage is full; nothing was stored",
        },
    ),
    ("get", "/v1/files"): Operation(
        "List the key's files, newest first. Page with `after` (the last id of the previous "
        "page) or `skip`.",
        {**COMMON, 400: "A parameter out of range, or an `after` cursor naming no file"},
    ),
    ("get", "/v1/files/hash/{digest}"): Operation(
        "Find a stored file by the md5 (32 hex digits) or sha256 (64) of its content.",
        {**COMMON, 400: "Not a hex digest, or an unknown purpose", 404: "No file with it"},
    ),
    ("post", "/v1/files/presigned-url"): Operation(
        "Start an upload by URL: PUT the raw bytes to the returned `url` (no API key), then "
        "call `GET /v1/files/verify-upload/{id}`.",
        {**COMMON, 400: "Invalid body: filename, purpose, expiration or content_type"},
    ),
    ("get", "/v1/files/verify-upload/{upload_id}"): Operation(
        "Finish an upload by URL: the stored file once its bytes were PUT, or why they "
        "were refused.",
        {
            **COMMON,
            400: "The PUT bytes were empty or invalid",
            404: "No such upload for this key (or it expired)",
            409: "The bytes have not been PUT yet",
            413: "The PUT bytes were over the size limit",
            415: "The PUT bytes' type is not accepted for the purpose",
        },
    ),
    ("get", "/v1/files/{file_id}"): Operation(
        "A file's metadata, with a freshly signed download URL.",
        {**COMMON, 404: "No such file for this key's tenant"},
    ),
    ("delete", "/v1/files/{file_id}"): Operation(
        "Delete a file; its bytes go once no other file shares them.",
        {**COMMON, 404: "No such file for this key's tenant"},
    ),
    ("get", "/v1/files/{file_id}/content"): CONTENT,
    ("head", "/v1/files/{file_id}/content"): Operation(
        "The headers `GET` would answer (type, `Content-Length`, `ETag`, `Accept-Ranges`), "
        "with no body; the same key or signed URL, `Range` and conditionals.",
        CONTENT.errors,
        security=CONTENT.security,
    ),
    ("put", "/v1/uploads/{upload_id}"): Operation(
        "The raw bytes of an upload by URL, to the signed URL that "
        "`POST /v1/files/presigned-url` returned (no API key).",
        {
            400: "Signed URL parameters malformed, or an empty body",
            403: "Signed URL invalid or expired",
            404: "No such upload",
            409: "This upload already received its bytes",
            413: "Over the size limit; nothing was kept",
            503: UNAVAILABLE,
            507: "The server's storage is full; nothing was stored",
        },
        security=[],
    ),
    ("post", "/v1/image/generate"): Operation(
        "Run a prediction on images: `domain`, and exactly one of `images` (base64 data "
        "URLs) or `urls`. Waits a few seconds for the result unless `batch` is true; poll "
        "`GET /v1/predictions/{id}` until `status` is `completed` or `failed`.",
        GENERATE,
    ),
    ("post", "/v1/document/generate"): Operation(
        "Run a prediction on a document: `domain`, and exactly one of `file_id` (from "
        "`POST /v1/files`) or `url`. Waits as `POST /v1/image/generate` does.",
        GENERATE,
    ),
    ("post", "/v1/audio/generate"): Operation(
        "Run a prediction on audio (`file_id` or `url`), for an audio domain a server's "
        "engine serves; the built-in engines serve none, so the 400 lists what is served.",
        GENERATE,
    ),
    ("post", "/v1/video/generate"): Operation(
        "Run a prediction on video (`file_id` or `url`), for a video domain a server's "
        "engine serves; the built-in engines serve none, so the 400 lists what is served.",
        GENERATE,
    ),
    ("get", "/v1/predictions/{pred_id}"): Operation(
        "A prediction: its `status` and, once `completed`, its `response`; with a "
        "`callback_url`, `callback` shows the delivery and every attempt.",
        {**COMMON, 404: "No such prediction for this key's tenant"},
    ),
    ("get", "/v1/predictions"): Operation(
        "The key's predictions, newest first, as a bare array; page with `skip`, `limit`.",
        {**COMMON, 400: "`skip` or `limit` out of range"},
    ),
    ("get", "/v1/domains"): Operation("The domains this server's engines serve.", COMMON),
    ("get", "/v1/models"): Operation("The models and the domains each serves.", COMMON),
    ("post", "/v1/schema"): Operation("A domain's JSON schema (`domain` in the body).", SCHEMA),
    ("get", "/v1/hub/info"): Operation("The schema hub's version.", COMMON),
    ("get", "/v1/hub/domains"): Operation("The domains the schema hub has schemas for.", COMMON),
    ("post", "/v1/hub/schema"): Operation(
        "A hub domain's JSON schema (`domain` in the body; `gql_stmt` picks fields).", SCHEMA
    ),
    ("post", "/v1/feedback/submit"): Operation(
        "Store a correction (`response`, any JSON) and/or `notes` on one of the key's "
        "predictions (`request_id`); every submission is kept.",
        {
            **COMMON,
            400: "Neither `response` nor `notes`, notes too long, or an invalid body",
            404: "No such prediction for this key's tenant",
            413: "The body is over the inline limit",
        },
    ),
    ("get", "/v1/feedback/{request_id}"): Operation(
        "The feedback stored on a prediction, newest first; page with `offset`, `limit`.",
        {
            **COMMON,
            400: "`offset` or `limit` out of range",
            404: "No such prediction for this key's tenant",
        },
    ),
    ("get", "/v1/webhooks/secret"): Operation(
        "The key's tenant's secret for `callback_url` deliveries: each is signed "
        "`X-VLMRun-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.",
        COMMON,
    ),
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorObject"}}},
    }


def _purpose(description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(PURPOSES), "description": description}


def _fix_parameters(op: dict[str, Any]) -> None:
    for param in op.get("parameters", []):
        name = param["name"]
        if name == "purpose":
            param["schema"] = _purpose(param["schema"].get("description", "Only this purpose."))
        elif name == "digest":
            param["schema"] = {"type": "string", "pattern": HEX_DIGEST}
        elif param["in"] == "query" and name in ("tenant", "key", "expires", "signature"):
            param["schema"] = {"type": "string"}
            param["description"] = "Part of a signed URL (with the other three)."


def _fix_operation(path: str, method: str, op: dict[str, Any], settings: Settings) -> None:
    spec = OPERATIONS.get((method, path))
    responses = op["responses"]
    for code in [c for c in responses if c[0] in "45"]:
        del responses[code]  # FastAPI's 422 and the router's every-error list
    if spec is None:  # a route this table does not know yet keeps FastAPI's successes
        return
    op["description"] = spec.description
    op["security"] = spec.security
    for code, text in sorted(spec.errors.items()):
        responses[str(code)] = _error(text)
    _fix_parameters(op)


def _fix_bodies(schema: dict[str, Any], settings: Settings) -> None:
    paths = schema["paths"]
    upload = paths["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
    upload["schema"]["properties"] = {
        "file": {"type": "string", "format": "binary"},
        "purpose": _purpose("Default: assistants (the query parameter works too)."),
        "sha256": {
            "type": "string",
            "pattern": SHA256,
            "description": "The file's sha256, if known; checked against the bytes.",
        },
    }
    binary = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    for method in ("get", "head"):
        content = paths["/v1/files/{file_id}/content"][method]["responses"]
        content["200"] = {"description": "The file's bytes", "content": binary}
        content["206"] = {
            "description": "The requested range of the file's bytes",
            "content": binary,
        }
        content["304"] = NOT_MODIFIED
    prediction_bodies(schema)
    put = paths["/v1/uploads/{upload_id}"]["put"]
    put["requestBody"] = {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
    request = schema["components"]["schemas"]["PresignedUrlRequest"]["properties"]
    request["purpose"] = {
        "anyOf": [_purpose("Default: assistants."), {"type": "null"}],
        "description": "Default: assistants.",
    }
    lifetime = {"type": "integer", "minimum": 1, "maximum": settings.max_upload_url_expiry_seconds}
    request["expiration"] = {
        "anyOf": [lifetime, {"type": "null"}],
        "description": "URL lifetime in seconds (default 3600).",
    }


def build_schema(app: FastAPI, settings: Settings) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description="The VLM Run Files API, self-hosted. Authenticate with "
        "`Authorization: Bearer <API key>` (`vlmfiles keys create` prints one). Every "
        'error is `{"error": {"message", "type", "id"}}`, the id also in '
        "`X-Request-Id`.",
        routes=app.routes,
    )
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            _fix_operation(path, method, op, settings)
    _fix_bodies(schema, settings)
    components = schema.setdefault("components", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    components["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key, as `vlmfiles keys create` prints it (`vlmf_...`).",
        }
    }
    return schema


def allowed_methods(request: Request) -> str:
    """The ``Allow`` of a 405: the methods the document gives this path (the most literal
    of the templates it matches: ``/v1/files/presigned-url`` rather than
    ``/v1/files/{file_id}``), else those of the routes that match it. Starlette's own
    named only the first route's, so ``GET /v1/files/{id}`` hid ``DELETE``."""
    path = request.url.path
    app = request.app
    best: tuple[int, list[str]] | None = None
    for template, ops in app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path):
            params = template.count("{")
            if best is None or params < best[0]:
                best = (params, [m for m in HTTP_METHODS if m.lower() in ops])
    if best is not None:
        return ", ".join(best[1])
    allowed = []
    for method in HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def install_api_docs(app: FastAPI, settings: Settings) -> None:
    """Serve ``/openapi.json`` corrected, and Swagger UI at ``/docs`` from the
    ``swagger-ui-bundle-v2`` package's files (create the app with ``docs_url=None``)."""
    from swagger_ui_bundle import swagger_ui_path

    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if "schema" not in cached:
            cached["schema"] = build_schema(app, settings)
        schema: dict[str, Any] = cached["schema"]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )
