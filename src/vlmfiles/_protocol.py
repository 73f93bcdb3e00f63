"""Names both sides of the wire share: the SDK and the server import them from here."""

from __future__ import annotations

SHA256_HEADER = "Vlmfiles-Upload-Sha256"
"""Sent by a vlmfiles server on ``GET /v1/health``: ``any`` if a file's sha256 may follow
its bytes at no cost, ``first`` if the server would rather have it before them (an S3-backed
one then writes the bytes straight to their final key instead of copying them there)."""
