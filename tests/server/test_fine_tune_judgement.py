"""The fine-tune and vision judgements: the same whatever the order of the form fields, a
clear 415 for JSON nested too deep or a value too large, never a 500 (issue 26, 1/2/5)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import SMALL_JSON_LIMIT
from tests.server.helpers import assert_error, png, unique, upload

DEEP = b"[" * 1025 + b"]" * 1025 + b"\n"  # one level past the limit


def _form(*parts: tuple[str, bytes, bool]) -> tuple[bytes, dict[str, str]]:
    """A multipart body with ``parts`` (name, value, is_file) in the order given."""
    body = b""
    for name, value, is_file in parts:
        filename = b'; filename="f.bin"' if is_file else b""
        body += (
            b'--b0undary\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + b'"'
            + filename
            + b"\r\n\r\n"
            + value
            + b"\r\n"
        )
    body += b"--b0undary--\r\n"
    return body, {"Content-Type": "multipart/form-data; boundary=b0undary"}


def _post(api: httpx.Client, *parts: tuple[str, bytes, bool]) -> httpx.Response:
    body, headers = _form(*parts)
    return api.post("/files", content=body, headers=headers)


@pytest.mark.parametrize("purpose_first", [True, False], ids=["purpose-first", "file-first"])
def test_the_purpose_judges_the_bytes_whatever_the_field_order(api, purpose_first):
    def post(purpose: bytes, content: bytes) -> httpx.Response:
        parts = [("purpose", purpose, False), ("file", content, True)]
        return _post(api, *(parts if purpose_first else parts[::-1]))

    assert_error(post(b"fine-tune", b"{ not json" + unique(8).hex().encode()), 415, "JSON")
    assert_error(post(b"fine-tune", png(unique())), 415, "JSON")
    assert_error(post(b"vision", b"%PDF-1.7 " + unique()), 415, "vision")
    good = b'{"a": 1}\n{"b": "' + unique(8).hex().encode() + b'"}\n'
    r = post(b"fine-tune", good)
    assert r.status_code == 201, r.text
    assert r.json()["purpose"] == "fine-tune"
    assert r.json()["content_type"] == "application/x-ndjson"
    r = post(b"assistants", b"{ not json, but any file will do " + unique(8).hex().encode())
    assert r.status_code == 201 and r.json()["purpose"] == "assistants"


def test_a_field_sent_twice_is_refused(api):
    r = _post(
        api,
        ("purpose", b"assistants", False),
        ("file", b"{ x", True),
        ("purpose", b"fine-tune", False),
    )
    assert_error(r, 400, "purpose", "twice")


def test_deep_nesting_is_a_415_that_says_so(api):
    for content in (DEEP, b"[" * 100_000, b'{"a":1}\n' + DEEP):
        r = upload(api, content, "d.json", purpose="fine-tune")
        assert_error(r, 415, "nested deeper than 1024")
    r = _post(api, ("file", DEEP, True), ("purpose", b"fine-tune", False))
    assert_error(r, 415, "nested deeper than 1024")
    # The reproduction (1,000 levels: a RecursionError, a 500): within the limit.
    ok = b"[" * 1000 + b'"' + unique(8).hex().encode() + b'"' + b"]" * 1000
    r = upload(api, ok, "d.json", purpose="fine-tune")
    assert r.status_code == 201, r.text


def test_deep_nesting_by_presigned_url_is_refused_at_verify(api):
    p = api.post("/files/presigned-url", json={"filename": "d.json", "purpose": "fine-tune"}).json()
    assert httpx.put(p["url"], content=DEEP).status_code == 200
    assert_error(api.get(f"/files/verify-upload/{p['id']}"), 415, "nested deeper than 1024")


def test_a_value_over_the_limit_is_refused_naming_it(small_server):
    with small_server.client(small_server.new_key("json-limit")) as api:
        line = b'{"text": "' + b"x" * SMALL_JSON_LIMIT + b'"}\n'
        for content in (b'{"a": 1}\n' + line, line, b'{"a": 1}\n' + line[:-1]):
            r = upload(api, content, "t.jsonl", purpose="fine-tune")
            assert_error(r, 415, f"at most {SMALL_JSON_LIMIT} bytes", "larger than")
        r = _post(api, ("file", b'{"a": 1}\n' + line, True), ("purpose", b"fine-tune", False))
        assert_error(r, 415, "larger than")
        fine = b'{"a": 1}\n' * (2 * SMALL_JSON_LIMIT // 9)  # many short lines: any size
        last = b'{"u": "' + unique(8).hex().encode() + b'"}'
        r = upload(api, fine + last, "t.jsonl", purpose="fine-tune")
        assert r.status_code == 201, r.text
