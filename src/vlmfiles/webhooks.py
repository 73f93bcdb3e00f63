"""Checking a ``callback_url`` delivery: it carries ``X-VLMRun-Signature: sha256=<hex
HMAC-SHA256(secret, raw body)>``, the secret being the one ``client.webhooks.secret()``
returns (the same check as the official SDK's ``vlmrun.common.webhook.verify_webhook``)."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "verify_signature"]

SIGNATURE_HEADER = "X-VLMRun-Signature"


def verify_signature(raw_body: bytes | str, signature_header: str | None, secret: str) -> bool:
    """True if ``signature_header`` signs exactly ``raw_body`` (the bytes as received,
    before any JSON parsing) with ``secret``; compared in constant time."""
    if not signature_header or not secret or not signature_header.startswith("sha256="):
        return False
    body = raw_body.encode() if isinstance(raw_body, str) else raw_body
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature_header[len("sha256=") :].encode(), expected.encode())
