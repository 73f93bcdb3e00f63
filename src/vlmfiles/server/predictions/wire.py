"""A prediction row as the JSON the official SDK's ``PredictionResponse`` parses (§3 of
the wire spec), plus ``engine`` and ``error``. Datetimes are UTC with a ``Z``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    dt = datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc)
    return dt.isoformat(timespec="microseconds").replace("+00:00", "Z")


def prediction_json(row: Any) -> dict[str, Any]:
    error = row["error"]
    return {
        "id": row["id"],
        "object": "prediction",
        "created_at": iso(row["created_us"]),
        "started_at": iso(row["started_us"]),
        "completed_at": iso(row["completed_us"]),
        "status": row["status"],
        "domain": row["domain"],
        "model": row["model"],
        "response": row["response"],
        "usage": row["usage"] or {},
        "engine": row["engine"],
        "attempts": row["attempts"],
        "error": {"message": error} if error else None,
        "callback": callback_json(row),
    }


def callback_json(row: Any) -> dict[str, Any] | None:
    """The callback_url's delivery: its status and every attempt so far (null: no URL)."""
    if not row["callback_url"]:
        return None
    return {
        "url": row["callback_url"],
        "status": row["callback_status"] or "pending",
        "attempts": row["callback_attempts"] or [],
    }
