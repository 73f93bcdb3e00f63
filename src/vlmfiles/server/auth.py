"""API key authentication: ``Authorization: Bearer <key>`` → the key's tenant."""

from __future__ import annotations

from fastapi import Request

from .errors import Unauthorized


async def require_tenant(request: Request) -> str:
    """FastAPI dependency: the tenant id of the request's API key, or 401."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing API key: send the header 'Authorization: Bearer <key>'.")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("Malformed Authorization header: expected 'Bearer <key>'.")
    tenant = await request.app.state.service.store.tenant_for_key(key)
    if tenant is None:
        raise Unauthorized("Invalid or revoked API key. Create one with `vlmfiles keys create`.")
    return tenant
