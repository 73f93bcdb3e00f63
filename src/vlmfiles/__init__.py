"""vlmfiles: the VLM Run Files API, self-hosted. This package is the light client (httpx,
pydantic); the server comes with ``pip install "vlmfiles[server]"``."""

from . import exceptions, types, webhooks
from ._client import AsyncClient, Client
from ._version import __version__
from .exceptions import (
    APIConnectionError,
    APIError,
    ApiError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PredictionFailedError,
    PredictionTimeoutError,
    RateLimitError,
    ResourceNotFoundError,
    ServerError,
    UnsupportedMediaTypeError,
    ValidationError,
    VlmFilesError,
)
from .types import CreditUsage, FileResponse, Prediction, PresignedUrlResponse, ResponseData
from .webhooks import verify_signature

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "CreditUsage",
    "FileResponse",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Prediction",
    "PredictionFailedError",
    "PredictionTimeoutError",
    "PresignedUrlResponse",
    "RateLimitError",
    "ResourceNotFoundError",
    "ResponseData",
    "ServerError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "VlmFilesError",
    "__version__",
    "exceptions",
    "types",
    "verify_signature",
    "webhooks",
]
