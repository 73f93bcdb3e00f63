"""What a user's ``config.json_schema`` may hold: a pattern RE2 cannot run,
patternProperties (matched with Python's backtracking re) or a reference outside the schema
(jsonschema would fetch it) is a 400 saying why."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import referencing.exceptions

from vlmfiles.server.errors import BadRequest
from vlmfiles.server.predictions.user_schemas import answer_validator, check_json_schema


@pytest.fixture
def schema_host() -> Iterator[tuple[str, list[str]]]:
    """A server on loopback that answers any GET with a schema, and the paths it was asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


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


@pytest.mark.parametrize(
    "ref", ["http://169.254.169.254/latest/meta-data/", "other.json", "file:///etc/passwd"]
)
def test_a_reference_outside_the_schema_is_refused(ref: str) -> None:
    schema = obj(x={"$ref": ref})
    with pytest.raises(BadRequest, match="outside the schema") as err:
        check_json_schema(schema)
    assert "/properties/x" in err.value.message


def test_references_inside_the_schema_are_accepted_and_resolved() -> None:
    schema = {
        "type": "object",
        "$defs": {"Money": {"type": "number", "minimum": 0}},
        "properties": {"total": {"$ref": "#/$defs/Money"}, "kind": {"enum": [{"$ref": "x"}]}},
    }
    assert check_json_schema(schema) is schema
    v = answer_validator(schema)
    assert v.is_valid({"total": 3}) and not v.is_valid({"total": -1})


def test_the_validator_fetches_nothing_a_schema_names(schema_host: Any) -> None:
    # Past the submit check (a row stored before it): the validator still fetches nothing.
    base, asked = schema_host
    v = answer_validator(obj(x={"$ref": f"{base}/schema.json"}))
    with pytest.raises(referencing.exceptions.Unresolvable):
        list(v.iter_errors({"x": 5}))
    assert asked == []
