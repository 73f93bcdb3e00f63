"""Response models of the vlmfiles API."""

from ._datetime import UTCDateTime
from .callback import CallbackAttempt, CallbackDelivery
from .file_response import FilePurpose, FileResponse
from .prediction import CreditUsage, Prediction, PredictionStatus
from .presigned_url import PresignedUrlResponse
from .response_data import ResponseData

__all__ = [
    "CallbackAttempt",
    "CallbackDelivery",
    "CreditUsage",
    "FilePurpose",
    "FileResponse",
    "Prediction",
    "PredictionStatus",
    "PresignedUrlResponse",
    "ResponseData",
    "UTCDateTime",
]
