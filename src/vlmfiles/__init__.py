"""vlmfiles: the VLM Run Files API, self-hosted. This package is the light client (httpx,
pydantic); the server comes with ``pip install "vlmfiles[server]"``."""

from . import exceptions, types
from ._client import AsyncClient, Client
from ._version import __version__
from .exceptions import (
    APIConnectionError,
    ApiError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from .types import FileResponse, PresignedUrlResponse

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "FileResponse",
    "NotFoundError",
    "PayloadTooLargeError",
    "PresignedUrlResponse",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "__version__",
    "exceptions",
    "types",
]
