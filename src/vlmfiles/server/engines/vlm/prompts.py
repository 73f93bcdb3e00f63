"""What the model is asked: the hub catalog's prompt for a domain where it has one, the
schema it must answer in, and that schema widened for confidence and grounding.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

DEFAULT_PROMPT = (
    "Extract the information the JSON schema describes from the attached {what}. "
    "Use null for a field the input does not show; never invent a value."
)
MARKDOWN_PROMPT = (
    "Transcribe the attached document as markdown, one entry in `pages` per page, in "
    "reading order, keeping headings, lists and tables."
)
CLASSIFICATION_PROMPT = (
    "Classify the attached image with one short label (e.g. document, screenshot, photo, "
    "blank) and your confidence between 0 and 1."
)
METADATA_KEY = "_metadata"  # where per-field confidence and grounding go in the response


@cache
def _catalog_prompts() -> dict[str, str]:
    from vlmrun.hub.constants import VLMRUN_HUB_CATALOG_PATH
    from vlmrun.hub.registry import SchemaCatalogYaml

    catalog = SchemaCatalogYaml.from_yaml(VLMRUN_HUB_CATALOG_PATH)
    return {item.domain: item.prompt for item in catalog.schemas if item.prompt}


def prompt_for(domain: str, config: dict[str, Any] | Any, element_type: str) -> str:
    given = config.get("prompt") if hasattr(config, "get") else None
    if isinstance(given, str) and given.strip():
        return given
    if domain == "document.markdown":
        return MARKDOWN_PROMPT
    if domain == "image.classification":
        return CLASSIFICATION_PROMPT
    what = "document pages" if element_type == "page" else "images"
    return _catalog_prompts().get(domain) or DEFAULT_PROMPT.format(what=what)


def instructions(config: Any) -> str:
    """The system message: answer in JSON, and what the metadata fields mean."""
    lines = ["Answer with one JSON object that follows the given JSON schema, nothing else."]
    if config.get("confidence") or config.get("grounding"):
        lines.append(
            f"In `{METADATA_KEY}`, for each top-level field you filled, give "
            + ("`confidence` (0 to 1, how sure you are)" if config.get("confidence") else "")
            + (" and " if config.get("confidence") and config.get("grounding") else "")
            + (
                "`page` (1-based, of the input pages or images) and `bbox` "
                "([x0, y0, x1, y1], each 0 to 1 of the page's width and height) where it is"
                if config.get("grounding")
                else ""
            )
            + "."
        )
    return " ".join(lines)


def with_metadata(schema: dict[str, Any], config: Any) -> dict[str, Any]:
    """The schema plus an optional ``_metadata`` object when confidence or grounding is
    asked for (added at the top so the schema's own ``$defs`` references still resolve)."""
    confidence, grounding = bool(config.get("confidence")), bool(config.get("grounding"))
    if not (confidence or grounding) or schema.get("type") != "object":
        return schema
    entry: dict[str, Any] = {"type": "object", "properties": {}}
    if confidence:
        entry["properties"]["confidence"] = {"type": "number", "minimum": 0, "maximum": 1}
    if grounding:
        entry["properties"]["page"] = {"type": "integer", "minimum": 1}
        entry["properties"]["bbox"] = {
            "type": "array",
            "items": {"type": "number", "minimum": 0, "maximum": 1},
            "minItems": 4,
            "maxItems": 4,
        }
    out = copy.deepcopy(schema)
    out.setdefault("properties", {})[METADATA_KEY] = {
        "type": "object",
        "description": "Per top-level field: " + ", ".join(entry["properties"]),
        "additionalProperties": entry,
    }
    return out
