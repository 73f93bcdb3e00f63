"""Response models of the vlmfiles API."""

from ._datetime import UTCDateTime
from .file_response import FilePurpose, FileResponse
from .presigned_url import PresignedUrlResponse

__all__ = ["FilePurpose", "FileResponse", "PresignedUrlResponse", "UTCDateTime"]
