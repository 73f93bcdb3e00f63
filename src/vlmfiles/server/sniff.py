"""What a file is (judged from its bytes, never its name) and which purposes accept it.

Binary formats are recognised by their magic numbers with the ``filetype`` library; text is
told apart here (JSON, HTML, SVG, XML, CSV/plain), since ``filetype`` only knows binaries.

| purpose            | accepts                                                        |
|--------------------|----------------------------------------------------------------|
| vision             | raster images: JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC/HEIF, AVIF |
| fine-tune          | JSON or JSONL that parses (UTF-8; judged by ``jsoncheck``)     |
| assistants, assistants_output, batch, batch_output, datasets | any non-empty file |

``docs/purposes.md`` carries the same table; a test keeps them in step.
"""

from __future__ import annotations

import filetype
from filetype.types.document import ZippedDocumentBase

from .._protocol import PURPOSES
from .errors import BadRequest, UnsupportedMediaType

VISION_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "image/heic",
        "image/heif",
        "image/avif",
    }
)
JSON_TYPES = frozenset({"application/json", "application/x-ndjson"})

# Types a browser would render or run: always served as attachments, with nosniff.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "application/xhtml+xml",
        "application/javascript",
        "application/pdf",
    }
)

SNIFF_BYTES = 8192

# filetype's six zipped-document matchers (docx, odt, ...) each scan the first 6,000 bytes
# for a ZIP header and match only if it is at offset 0: half of detect()'s time for a file
# that is not a ZIP. They are asked only when the bytes start with one.
_ZIP = b"PK\x03\x04"
_NOT_ZIPPED_DOCUMENTS = [t for t in filetype.types if not isinstance(t, ZippedDocumentBase)]


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise BadRequest(f"Unknown purpose {purpose!r}. Valid purposes: {', '.join(PURPOSES)}.")
    return purpose


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sniffed window is still text.
        return exc.start >= len(head) - 3
    return True


def detect(head: bytes) -> str:
    """The media type of a file whose first bytes are ``head``."""
    matchers = filetype.types if head.startswith(_ZIP) else _NOT_ZIPPED_DOCUMENTS
    kind = filetype.match(head, matchers) if head else None
    if kind is not None:
        return str(kind.mime)
    if not _looks_like_text(head):
        return "application/octet-stream"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"{", b"[")):
        return "application/json"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"
    if text.startswith((b"<!doctype html", b"<html")) or b"<script" in text[:1024]:
        return "text/html"
    if text.startswith(b"<?xml"):
        return "application/xml"
    if text.startswith(b"%pdf"):
        return "application/pdf"
    return "text/plain"


def check_accepted(purpose: str, content_type: str) -> None:
    """Raise 415 if ``purpose`` does not take files of ``content_type``."""
    if purpose == "vision" and content_type not in VISION_TYPES:
        raise UnsupportedMediaType(
            f"Purpose 'vision' accepts raster images ({', '.join(sorted(VISION_TYPES))}); "
            f"this file's bytes are {content_type}."
        )
    if purpose == "fine-tune" and content_type not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Purpose 'fine-tune' accepts JSON or JSONL; this file's bytes are {content_type}."
        )
