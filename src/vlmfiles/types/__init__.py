"""Response models of the vlmfiles API."""

from ._datetime import UTCDateTime
from .callback import CallbackAttempt, CallbackDelivery
from .feedback import FeedbackItem, FeedbackList, FeedbackSubmitted
from .file_response import FilePurpose, FileResponse
from .prediction import CreditUsage, Prediction, PredictionStatus
from .presigned_url import PresignedUrlResponse
from .response_data import ResponseData

__all__ = [
    "CallbackAttempt",
    "CallbackDelivery",
    "CreditUsage",
    "FeedbackItem",
    "FeedbackList",
    "FeedbackSubmitted",
    "FilePurpose",
    "FileResponse",
    "Prediction",
    "PredictionStatus",
    "PresignedUrlResponse",
    "ResponseData",
    "UTCDateTime",
]
