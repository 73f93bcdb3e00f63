"""Domains, schemas and the hub, answered offline from the installed ``vlmrun-hub``.

``POST /v1/schema`` gives the JSON schema the official SDK's ``autocast`` builds a model
from. For ``document.invoice`` it also declares ``invoice_number``, the name the Files API
spec's examples read (the hub's own name is ``invoice_id``; the engine fills both).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.metadata import version
from typing import Any

from ..errors import BadRequest
from .user_schemas import check_json_schema

MARKDOWN_SCHEMA: dict[str, Any] = {
    "title": "MarkdownDocument",
    "type": "object",
    "properties": {
        "pages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"content": {"type": "string"}},
                "required": ["content"],
            },
        }
    },
    "required": ["pages"],
}

CLASSIFICATION_SCHEMA: dict[str, Any] = {
    "title": "ImageClassification",
    "type": "object",
    "properties": {
        "label": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "confidence": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
    },
}

_EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "document.invoice": {
        "invoice_number": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "default": None,
            "description": "The invoice's number as printed (the hub calls it invoice_id)",
            "title": "Invoice Number",
        }
    },
}


@cache
def hub_version() -> str:
    return version("vlmrun-hub")


@cache
def _registry() -> Any:
    from vlmrun.hub.registry import registry

    return registry


def hub_domains() -> list[dict[str, Any]]:
    registry = _registry()
    out = []
    for domain in registry.list_schemas():
        info = registry.get_domain_info(domain) or {}
        out.append(
            {
                "domain": domain,
                "description": info.get("description"),
                "tags": info.get("tags") or [],
            }
        )
    return out


def json_schema_for(domain: str) -> dict[str, Any] | None:
    """The domain's schema, shared between jobs: callers copy before changing it."""
    if domain == "document.markdown":
        return MARKDOWN_SCHEMA
    if domain == "image.classification":
        return CLASSIFICATION_SCHEMA
    if domain not in _registry().list_schemas():
        return None
    return _hub_schema(domain)


@cache
def _hub_schema(domain: str) -> dict[str, Any]:
    # Generating it (pydantic) cost more CPU than the rest of a model job; it is fixed by
    # the installed vlmrun-hub, so once per domain and process.
    schema: dict[str, Any] = _registry()[domain].model_json_schema()
    extra = _EXTRA_FIELDS.get(domain)
    if extra:
        schema = {**schema, "properties": {**schema.get("properties", {}), **extra}}
    return schema


def schema_for(domain: str, config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The one schema a prediction is held to and ``/v1/schema`` answers: the request's
    ``config.json_schema`` when given, else the domain's."""
    given = (config or {}).get("json_schema")
    return check_json_schema(given) if given is not None else json_schema_for(domain)


def schema_response(
    domain: str,
    served: dict[str, str],
    config: dict[str, Any] | None,
    gql_stmt: str | None = None,
) -> dict[str, Any]:
    """The five fields the SDK's ``SchemaResponse`` requires (and ``description``)."""
    schema = schema_for(domain, config)
    if schema is None:
        known = sorted(set(served) | set(_registry().list_schemas()))
        raise BadRequest(f"Unknown domain {domain!r}: schemas exist for {', '.join(known)}.")
    encoded = json.dumps(schema, sort_keys=True).encode()
    return {
        "domain": domain,
        "description": served.get(domain) or schema.get("description"),
        "schema_version": hub_version(),
        "schema_hash": hashlib.sha256(encoded).hexdigest()[:8],
        "gql_stmt": gql_stmt or "",
        "json_schema": schema,
    }
