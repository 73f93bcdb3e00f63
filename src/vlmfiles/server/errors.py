"""One error shape for every failure the server reports.

Every non-2xx answer is JSON ``{"error": {"message": ..., "type": ..., "id": <request id>}}``
with the request id also in ``X-Request-Id``: the shape the official ``vlmrun`` SDK reads.
A test locks it (``tests/server/test_error_shape.py``).

    ApiError                      (status, type)
    ├── BadRequest                400 invalid_request_error
    ├── Unauthorized              401 authentication_error
    ├── Forbidden                 403 permission_error
    ├── NotFound                  404 not_found_error
    ├── MethodNotAllowed          405 invalid_request_error
    ├── Conflict                  409 conflict_error
    ├── PayloadTooLarge           413 payload_too_large_error
    ├── UnsupportedMediaType      415 unsupported_media_type_error
    ├── RangeNotSatisfiable       416 invalid_request_error
    ├── InsufficientStorage       507 insufficient_storage_error
    └── ServiceUnavailable        503 service_unavailable_error  (with Retry-After)

Messages say what was wrong and what is accepted. Internal errors answer 500 with a
generic message and the request id; the stack trace goes to the log only.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Scope

from .responses import JSONResponse
from .storage.base import StoreBusy

log = logging.getLogger("vlmfiles.server")


class ApiError(Exception):
    status_code = 500
    type = "server_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    status_code, type = 400, "invalid_request_error"


class Unauthorized(ApiError):
    status_code, type = 401, "authentication_error"


class Forbidden(ApiError):
    status_code, type = 403, "permission_error"


class NotFound(ApiError):
    status_code, type = 404, "not_found_error"


class MethodNotAllowed(ApiError):
    status_code, type = 405, "invalid_request_error"


class Conflict(ApiError):
    status_code, type = 409, "conflict_error"


class PayloadTooLarge(ApiError):
    status_code, type = 413, "payload_too_large_error"


class UnsupportedMediaType(ApiError):
    status_code, type = 415, "unsupported_media_type_error"


class RangeNotSatisfiable(ApiError):
    status_code, type = 416, "invalid_request_error"


class ServiceUnavailable(ApiError):
    status_code, type = 503, "service_unavailable_error"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class InsufficientStorage(ApiError):
    status_code, type = 507, "insufficient_storage_error"


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        RangeNotSatisfiable,
        ServiceUnavailable,
        InsufficientStorage,
    )
}


def error_for_status(status: int, message: str) -> ApiError:
    """The API error of ``status`` (a refusal recorded earlier, told again)."""
    return _BY_STATUS.get(status, BadRequest)(message)


def classify_backend_error(exc: BaseException) -> ApiError | None:
    """Map a failure of a backing service to 503/507, or None for a bug (500).

    The database or the object store being unreachable is not the client's fault and will
    pass: 503 with Retry-After (every SDK retries it). A full disk is 507."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, StoreBusy):
            return ServiceUnavailable(
                "The server is busy with other large uploads and had no memory free for this "
                "one; nothing was stored. Retry in a few seconds.",
                retry_after=5,
            )
        if isinstance(cur, OSError) and cur.errno == errno.ENOSPC:
            return InsufficientStorage(
                "The server's storage is full; the upload was discarded. Retry once space "
                "has been freed."
            )
        name = type(cur).__name__
        module = type(cur).__module__
        if module.startswith("sqlalchemy") and name == "TimeoutError":  # the pool's wait
            return ServiceUnavailable(
                "The server is busy: all of its database connections stayed in use while "
                "this request waited for one; nothing was changed. Retry in a few seconds.",
                retry_after=5,
            )
        sqlstate = str(getattr(cur, "sqlstate", "") or "")
        if (
            (module.startswith("sqlalchemy") and name in ("OperationalError", "InterfaceError"))
            or getattr(cur, "connection_invalidated", False)
            # PostgreSQL: connection exceptions, operator intervention (shutdown, cannot
            # connect now), insufficient resources, database not accepting connections.
            or sqlstate.startswith(("08", "57P", "53"))
            or sqlstate == "55000"
            or (module.startswith("asyncpg") and "Connection" in name)
            or (module.startswith("botocore") and name in _BOTOCORE_TRANSIENT)
            or isinstance(cur, (ConnectionError, TimeoutError))
        ):
            return ServiceUnavailable(
                "A storage backend of this server is unavailable; nothing was changed. "
                "Retry in a few seconds.",
                retry_after=5,
            )
        cur = cur.__cause__ or cur.__context__
    return None


_BOTOCORE_TRANSIENT = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ConnectionError",
    }
)


def request_id(request: Request) -> str:
    return scope_request_id(request.scope)


def scope_request_id(scope: Scope) -> str:
    """The request's id, made on first use; kept where ``request.state`` keeps its values."""
    state = scope.setdefault("state", {})
    rid: str | None = state.get("request_id")
    if rid is None:
        rid = state["request_id"] = f"req_{os.urandom(16).hex()}"
    return rid


def error_response(
    request: Request,
    status: int,
    type_: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    rid = request_id(request)
    return JSONResponse(
        {"error": {"message": message, "type": type_, "id": rid}},
        status_code=status,
        headers={**(headers or {}), "X-Request-Id": rid},
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status_code, exc.type, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI answers 422 by default; the official SDK maps 400 to ValidationError.
        return error_response(request, 400, BadRequest.type, _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cls = _BY_STATUS.get(exc.status_code, ApiError)
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            message = f"No route {request.method} {request.url.path}. See /docs for the API."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            from .api_docs import allowed_methods

            allowed = allowed_methods(request)
            message = (
                f"Method {request.method} is not allowed on {request.url.path}; allowed: {allowed}."
            )
            headers["Allow"] = allowed
        return error_response(request, exc.status_code, cls.type, message, headers)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client went away before its body ended: a cancelled upload, or our SDK
        # stopping one whose content it found meanwhile. The upload was aborted (nothing
        # stored); no one is left to answer, and it is no server error.
        log.info(
            "%s %s [%s]: the client went away before the body ended; nothing was stored",
            request.method,
            request.url.path,
            request_id(request),
        )
        return Response(status_code=499)  # nginx's "client closed request"; never sent

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        mapped = classify_backend_error(exc)
        if mapped is not None:
            log.warning(
                "%s %s [%s]: %s", request.method, request.url.path, request_id(request), exc
            )
            return error_response(
                request, mapped.status_code, mapped.type, mapped.message, mapped.headers
            )
        log.exception(
            "internal error in %s %s [%s]", request.method, request.url.path, request_id(request)
        )
        # Starlette answers this from its outermost middleware and then re-raises, and
        # uvicorn closes the connection after the answer: said here, so a client does not
        # send its next request on it (one that did met a connection reset).
        return error_response(
            request,
            500,
            "server_error",
            f"Internal server error; quote request id {request_id(request)} when reporting it.",
            {"Connection": "close"},
        )
