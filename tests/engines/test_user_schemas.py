"""What a user's ``config.json_schema`` may hold: a pattern RE2 cannot run, or
patternProperties (matched with Python's backtracking re), is a 400 saying why."""

from __future__ import annotations

from typing import Any

import pytest

from vlmfiles.server.errors import BadRequest
from vlmfiles.server.predictions.user_schemas import answer_validator, check_json_schema


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


@pytest.mark.parametrize(
    "schema",
    [
        obj(code={"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}),
        obj(pattern={"type": "string"}),  # a property named "pattern"
        obj(kind={"enum": [{"pattern": "(?=x)"}]}),  # data, not a regex
        {"type": "object", "propertyNames": {"pattern": "^[a-z_]+$"}},
    ],
)
def test_accepted(schema: dict[str, Any]) -> None:
    assert check_json_schema(schema) is schema


def test_a_pattern_re2_cannot_run_is_refused_saying_where_and_why() -> None:
    schema = obj(total=obj(code={"type": "string", "pattern": "^(?!0)\\d+$"}))
    with pytest.raises(BadRequest) as err:
        check_json_schema(schema)
    message = err.value.message
    assert "/properties/total/properties/code" in message
    assert "RE2" in message and "lookaround" in message


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "patternProperties": {"^(a+)+$": {"type": "string"}}},
        # reachable only through a $ref into a keyword jsonschema does not know
        {"$ref": "#/x-hidden", "x-hidden": {"patternProperties": {"^a": {}}}},
    ],
)
def test_pattern_properties_are_refused_wherever_they_sit(schema: dict[str, Any]) -> None:
    with pytest.raises(BadRequest, match="patternProperties"):
        check_json_schema(schema)


def test_the_validator_matches_patterns_like_re() -> None:
    v = answer_validator(obj(code={"pattern": "[0-9]{3}"}))
    assert v.is_valid({"code": "ab123"})  # search, not a full match, as JSON Schema says
    assert not v.is_valid({"code": "ab12"})
    assert v.is_valid({"code": 7})  # pattern applies to strings only
