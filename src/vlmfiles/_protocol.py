"""Names both sides of the wire share: the SDK and the server import them from here."""

from __future__ import annotations

from typing import Literal, get_args

Purpose = Literal[
    "fine-tune",
    "assistants",
    "assistants_output",
    "batch",
    "batch_output",
    "vision",
    "datasets",
]
"""What a file is for; the server judges its bytes by it (server/sniff.py)."""

PURPOSES: tuple[str, ...] = get_args(Purpose)
DEFAULT_PURPOSE: Purpose = "assistants"

LIST_MAX_LIMIT = 1000
"""The largest page ``GET /v1/files`` returns by default (the server's ``list_max_limit``
setting); the SDK's ``files.list()`` asks for pages of this size."""

SHA256_HEADER = "Vlmfiles-Upload-Sha256"
"""Sent by a vlmfiles server on ``GET /v1/health``: ``any`` if a file's sha256 may follow
its bytes at no cost, ``first`` if the server would rather have it before them (an S3-backed
one then writes the bytes straight to their final key instead of copying them there)."""
