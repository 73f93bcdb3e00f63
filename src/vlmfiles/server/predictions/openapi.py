"""The predictions routes' part of ``/openapi.json``: their request bodies (the handlers
read them themselves, bounded, so FastAPI cannot see them) and the shape of each answer,
which ``tests/reliability/test_fuzz.py`` holds the server to."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .feedback import FeedbackSubmit
from .routes import FileGenerate, ImageGenerate, SchemaRequest


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with these properties, each one always present."""
    return {"type": "object", "properties": properties, "required": list(properties)}


STR, NULLABLE_STR = {"type": "string"}, {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
PREDICTION = _obj(
    {
        "id": STR,
        "object": {"const": "prediction"},
        "created_at": TIME,
        "started_at": TIME,
        "completed_at": TIME,
        "status": {"enum": ["enqueued", "pending", "running", "completed", "failed"]},
        "domain": STR,
        "model": STR,
        "response": {},
        "usage": {"type": "object"},
        "engine": NULLABLE_STR,
        "attempts": {"type": "integer", "minimum": 0},
        "error": {"anyOf": [_obj({"message": STR}), {"type": "null"}]},
        "callback": {
            "description": "The `callback_url` delivery (null without one): `pending` until "
            "an attempt gets a 2xx (`delivered`) or the last fails (`failed`); each attempt "
            "with its time, the receiver's status code or the error, and its duration.",
            "anyOf": [
                _obj(
                    {
                        "url": STR,
                        "status": {"enum": ["pending", "delivered", "failed"]},
                        "attempts": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "at": {"type": "string", "format": "date-time"},
                                    "status_code": {"type": ["integer", "null"]},
                                    "error": NULLABLE_STR,
                                    "duration_ms": {"type": "integer", "minimum": 0},
                                }
                            ),
                        },
                    }
                ),
                {"type": "null"},
            ],
        },
    }
)
SCHEMA_RESPONSE = _obj(
    {
        "domain": STR,
        "description": NULLABLE_STR,
        "schema_version": STR,
        "schema_hash": STR,
        "gql_stmt": STR,
        "json_schema": {"type": "object"},
    }
)


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def prediction_bodies(schema: dict[str, Any]) -> None:
    """The predictions routes read their JSON bodies themselves (bounded by
    ``max_inline_input_bytes``): their models are declared here, and each answer's shape."""
    paths, array = schema["paths"], {"type": "array"}
    requests: dict[str, type[BaseModel]] = {
        "/v1/image/generate": ImageGenerate,
        "/v1/schema": SchemaRequest,
    }
    requests |= {f"/v1/{k}/generate": FileGenerate for k in ("document", "audio", "video")}
    requests["/v1/hub/schema"] = SchemaRequest
    for path, model in requests.items():
        body = {"schema": model.model_json_schema()}
        # Required whatever the model's default: check_domain refuses a missing one.
        body["schema"]["properties"]["domain"] = {
            "type": "string",
            "description": "One of the domains `GET /v1/domains` lists (a 400 says which).",
        }
        body["schema"]["required"] = ["domain"]
        op = paths[path]["post"]
        op["requestBody"] = {"required": True, "content": {"application/json": body}}
        op["responses"]["200"] = _json(SCHEMA_RESPONSE if "schema" in path else PREDICTION)
    paths["/v1/predictions/{pred_id}"]["get"]["responses"]["200"] = _json(PREDICTION)
    listing = {**array, "items": PREDICTION}
    paths["/v1/predictions"]["get"]["responses"]["200"] = _json(listing)
    domains = {**array, "items": _obj({"domain": STR, "description": NULLABLE_STR})}
    paths["/v1/domains"]["get"]["responses"]["200"] = _json(domains)
    models = {**array, "items": _obj({"model": STR, "domain": STR})}
    paths["/v1/models"]["get"]["responses"]["200"] = _json(models)
    paths["/v1/hub/info"]["get"]["responses"]["200"] = _json(_obj({"version": STR}))
    paths["/v1/webhooks/secret"]["get"]["responses"]["200"] = _json(_obj({"secret": STR}))
    hub = _obj({"domain": STR, "description": NULLABLE_STR, "tags": array})
    paths["/v1/hub/domains"]["get"]["responses"]["200"] = _json({**array, "items": hub})
    _feedback(paths)


def _feedback(paths: dict[str, Any]) -> None:
    submit = paths["/v1/feedback/submit"]["post"]
    body = {"schema": FeedbackSubmit.model_json_schema()}
    submit["requestBody"] = {"required": True, "content": {"application/json": body}}
    created = _obj({"id": STR, "request_id": STR, "created_at": TIME})
    submit["responses"].pop("200", None)
    submit["responses"]["201"] = _json(created, "Stored")
    item = _obj({"id": STR, "created_at": TIME, "response": {}, "notes": NULLABLE_STR})
    listing = _obj({"request_id": STR, "items": {"type": "array", "items": item}})
    paths["/v1/feedback/{request_id}"]["get"]["responses"]["200"] = _json(listing)
