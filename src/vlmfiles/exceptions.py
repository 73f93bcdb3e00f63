"""Every error the vlmfiles SDK raises.

Status errors carry what the server said: ``status_code``, ``message``, the error
``type`` and the ``request_id`` (also sent as ``X-Request-Id``; quote it when reporting a
problem). Network failures carry no status.

    VlmFilesError                    the SDK's base class (also: no API key configured)
    ├── PredictionFailedError        ``predictions.wait``: the prediction failed; ``reason``
    ├── PredictionTimeoutError       ``predictions.wait``: not done within ``timeout``
    │                                (also a built-in ``TimeoutError``)
    └── ApiError (alias APIError)    status_code, message, type, request_id, http_status
        ├── APIConnectionError       could not reach the server, or it hung up
        │   └── APITimeoutError      the request took longer than ``timeout``
        ├── ValidationError          400  bad input (unknown purpose, empty file, ...)
        ├── AuthenticationError      401  missing or wrong API key
        ├── PermissionDeniedError    403  bad or expired signature on a signed URL
        ├── NotFoundError            404  alias ResourceNotFoundError
        ├── ConflictError            409
        ├── PayloadTooLargeError     413  the message says the server's limit
        ├── UnsupportedMediaTypeError 415 the message says what the purpose accepts
        ├── RateLimitError           429
        └── ServerError              5xx  (503 when a backing service is down)

Any other unexpected status raises ``ApiError`` itself. ``FileNotFoundError`` (built in) is
raised, before any request, for a local path that does not exist; ``ValueError`` for an
empty id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from .types.prediction import Prediction

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ApiError",
    "AuthenticationError",
    "ConflictError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PredictionFailedError",
    "PredictionTimeoutError",
    "RateLimitError",
    "ResourceNotFoundError",
    "ServerError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "VlmFilesError",
]


class VlmFilesError(Exception):
    """Base class of every exception the SDK raises on purpose."""


class PredictionFailedError(VlmFilesError):
    """A prediction ended ``failed``. ``reason`` is the server's explanation."""

    def __init__(self, prediction: Prediction) -> None:
        self.prediction = prediction
        self.prediction_id = prediction.id
        self.reason = prediction.reason or "the server gave no reason"
        super().__init__(f"Prediction {prediction.id} failed: {self.reason}")


class PredictionTimeoutError(VlmFilesError, TimeoutError):
    """A prediction was not done within the ``timeout`` given to ``wait``. It may still
    finish: ``prediction`` is its last state; wait again or ``get`` it later."""

    def __init__(self, prediction: Prediction, timeout: float) -> None:
        self.prediction = prediction
        self.prediction_id = prediction.id
        self.status = prediction.status
        self.timeout = timeout
        super().__init__(
            f"Prediction {prediction.id} did not complete within {timeout:g} seconds. "
            f"Last status: {prediction.status}"
        )


class ApiError(VlmFilesError):
    """A call to the API failed: the server answered with an error, or could not be reached."""

    status_code: int | None
    message: str
    type: str | None
    request_id: str | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        type: str | None = None,
        request_id: str | None = None,
        request: httpx.Request | None = None,
        response: httpx.Response | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.request_id = request_id
        self.request = request
        self.response = response
        self.body = body

    @property
    def http_status(self) -> int | None:
        """The HTTP status, under the name the official ``vlmrun`` SDK uses."""
        return self.status_code

    def __str__(self) -> str:
        text = self.message if self.status_code is None else f"{self.status_code}: {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


APIError = ApiError


class APIConnectionError(ApiError):
    """The server could not be reached, or the connection broke before an answer came."""

    def __init__(self, message: str = "Connection error.", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class APITimeoutError(APIConnectionError):
    """No answer within the configured ``timeout``."""

    def __init__(self, message: str = "Request timed out.", **kwargs: object) -> None:
        super().__init__(message, **kwargs)


class ValidationError(ApiError):
    """400: the request was malformed or a value was refused."""


class AuthenticationError(ApiError):
    """401: the API key is missing or not valid."""


class PermissionDeniedError(ApiError):
    """403: the signature of a signed URL is wrong or has expired."""


class NotFoundError(ApiError):
    """404: no such file (for this API key's tenant)."""


ResourceNotFoundError = NotFoundError


class ConflictError(ApiError):
    """409: the request conflicts with the state of the resource."""


class PayloadTooLargeError(ApiError):
    """413: the file is larger than the server accepts; the message says the limit."""


class UnsupportedMediaTypeError(ApiError):
    """415: the file's type is not accepted for the requested purpose."""


class RateLimitError(ApiError):
    """429: too many requests; retried automatically, honouring ``Retry-After``."""


class ServerError(ApiError):
    """5xx: the server failed; retried automatically."""


STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
}


def error_class_for_status(status_code: int) -> type[ApiError]:
    """The exception class raised for an answer with ``status_code``."""
    if status_code >= 500:
        return ServerError
    return STATUS_ERRORS.get(status_code, ApiError)
