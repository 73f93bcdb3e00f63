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
METADATA_SUFFIX = "_metadata"  # <field>_metadata: a field's confidence and grounding
METADATA_DEF = "VlmfilesFieldMetadata"


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
    confidence, grounding = bool(config.get("confidence")), bool(config.get("grounding"))
    if confidence or grounding:
        asked = []
        if confidence:
            asked.append("`confidence` (0 to 1, how sure you are of the value)")
        if grounding:
            asked.append(
                '`bbox` ({"xywh": [x, y, width, height]}, each a fraction 0 to 1 of the '
                "page's width or height, from its top left corner) around where the value is "
                "shown, `bbox_content` (the text inside that box) and `page` (1-based, of the "
                "input pages or images)"
            )
        lines.append(
            f"For each field you filled, fill `<field>{METADATA_SUFFIX}` beside it with "
            + " and ".join(asked)
            + "; leave it null for a field you left null."
        )
    return " ".join(lines)


def with_metadata(schema: dict[str, Any], config: Any) -> dict[str, Any]:
    """The schema plus an optional ``<field>_metadata`` beside each field (nested ones
    included) when confidence or grounding is asked for: the hosted platform's shape, the
    one the official SDK's ``vlmrun.common.viz.get_boxes_from_response`` draws boxes from."""
    confidence, grounding = bool(config.get("confidence")), bool(config.get("grounding"))
    fields = schema.get("properties")
    if not (confidence or grounding) or not isinstance(fields, dict):
        return schema
    entry: dict[str, Any] = {"type": "object", "properties": {}}
    if confidence:
        entry["properties"]["confidence"] = {"type": "number", "minimum": 0, "maximum": 1}
    if grounding:
        fraction = {"type": "number", "minimum": 0, "maximum": 1}
        entry["properties"]["bbox"] = {
            "type": "object",
            "properties": {
                "xywh": {"type": "array", "items": fraction, "minItems": 4, "maxItems": 4}
            },
            "required": ["xywh"],
        }
        entry["properties"]["bbox_content"] = {"type": ["string", "null"]}
        entry["properties"]["page"] = {"type": "integer", "minimum": 1}
    out = copy.deepcopy(schema)
    defs = out.setdefault("$defs", {})
    # One definition referenced by every field keeps the schema sent (and its tokens) small.
    ref: dict[str, Any] = entry
    if isinstance(defs, dict) and METADATA_DEF not in defs:
        ref = {"$ref": f"#/$defs/{METADATA_DEF}"}
    objects = [out]
    for key in ("$defs", "definitions"):  # nested models (pydantic puts them in $defs)
        found = out.get(key)
        if isinstance(found, dict):
            objects += [d for d in found.values() if isinstance(d, dict)]
    for obj in objects:
        _add_metadata(obj, ref)
    if ref is not entry:
        defs[METADATA_DEF] = entry
    return out


def _add_metadata(obj: dict[str, Any], ref: dict[str, Any]) -> None:
    """``<field>_metadata`` beside each field of an object schema, and of the objects
    written inline in it (a field's own, or its array's items)."""
    fields = obj.get("properties")
    if not isinstance(fields, dict):
        return
    for name in list(fields):
        sub = fields[name]
        if isinstance(sub, dict):
            _add_metadata(sub, ref)
            if isinstance(sub.get("items"), dict):
                _add_metadata(sub["items"], ref)
        key = f"{name}{METADATA_SUFFIX}"
        if not name.endswith(METADATA_SUFFIX) and key not in fields:
            fields[key] = {"anyOf": [ref, {"type": "null"}], "default": None}
