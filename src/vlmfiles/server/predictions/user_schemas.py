"""What a JSON schema from a user (``config.json_schema``) may hold, and the validator a
model's answer is checked with.

A schema's regular expressions are the user's and the text they match is the model's: with
Python's backtracking ``re`` a pattern like ``^(a+)+$`` takes exponential time, holding the
GIL in a worker for ever. So ``pattern`` runs on RE2 (linear time; no lookaround or
backreferences, refused at submit with the reason), and ``patternProperties``, which
jsonschema matches with ``re`` in three keywords, is not accepted (OpenAI's structured
outputs do not take it either).

A ``$ref`` must point inside the schema: jsonschema would otherwise fetch a remote one with
``urlopen`` (any address, no time or size limit) while checking an answer. It is refused at
submit, and the validator's registry holds only the JSON Schema metaschemas, fetching
nothing, whatever a schema's ``$id`` makes of a reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

import jsonschema
import re2
from jsonschema_specifications import REGISTRY as METASCHEMAS

from ..errors import BadRequest

# Keywords whose values are data, not schemas: a "pattern" inside them is not a regex.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def check_json_schema(given: Any) -> dict[str, Any]:
    """``config.json_schema`` as a JSON Schema object, or a 400 saying what is wrong."""
    if not isinstance(given, dict):
        raise BadRequest(
            f"config.json_schema must be a JSON Schema object, got {type(given).__name__}."
        )
    try:
        jsonschema.validators.validator_for(given).check_schema(given)
        problem = next(_refused(given), None)
    except RecursionError:
        raise BadRequest("config.json_schema is nested too deeply to check.") from None
    except jsonschema.SchemaError as exc:
        raise BadRequest(
            f"config.json_schema is not a valid JSON Schema: {exc.message} "
            f"(at {'/'.join(map(str, exc.path)) or 'the top'})."
        ) from None
    if problem is not None:
        raise BadRequest(f"config.json_schema {problem}")
    return given


def _refused(node: Any, path: str = "", data: bool = False) -> Iterator[str]:
    """Why the schema is refused, for each place that is. The whole document is walked,
    values of data keywords (``const``, ``enum``...) included, as a ``$ref`` can point
    anywhere in it; only their patterns are not compiled, not being regexes."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _refused(item, f"{path}/{i}", data)
        return
    if not isinstance(node, dict):
        return
    where = path or "the top"
    if isinstance(node.get("patternProperties"), dict):
        yield (
            f"uses patternProperties (at {where}), which this server does not accept: "
            "use properties, or propertyNames with a pattern."
        )
    for keyword in _REF_KEYWORDS:
        ref = node.get(keyword)
        if isinstance(ref, str) and not ref.startswith("#") and not data:
            yield (
                f"has a {keyword} outside the schema (at {where}): {ref!r}. References "
                "must point inside it (#/$defs/...): this server fetches nothing a schema names."
            )
    pattern = node.get("pattern")
    if isinstance(pattern, str) and not data:
        try:
            _compiled(pattern)
        except re2.error as exc:
            yield (
                f"has a pattern RE2 cannot run (at {where}): {pattern!r}: {exc}. Patterns "
                "run on RE2, in time linear in the text: no lookaround or backreferences."
            )
    for key, value in node.items():
        yield from _refused(value, f"{path}/{key}", data or key in _DATA_KEYWORDS)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern)


def _re2_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = _compiled(pattern).search(instance)
    except re2.error as exc:  # a schema stored before it was checked at submit
        yield jsonschema.ValidationError(f"the schema's pattern {pattern!r} cannot run: {exc}")
        return
    if found is None:
        yield jsonschema.ValidationError(f"{instance[:100]!r} does not match {pattern!r}")


def answer_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for ``schema`` whose ``pattern`` runs on RE2 and whose
    references resolve inside the schema only (an outside one raises ``Unresolvable``)."""
    base = jsonschema.validators.validator_for(schema)
    return _validator_class(base)(schema, registry=METASCHEMAS)


@cache
def _validator_class(base: Any) -> Any:
    return jsonschema.validators.extend(base, {"pattern": _re2_pattern})
