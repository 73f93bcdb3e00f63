"""One JSON error shape for every failure (the shape the official SDK reads)."""

from __future__ import annotations

import httpx

from tests.server.helpers import assert_error


def test_every_kind_of_error_has_the_one_shape(server, api):
    cases = [
        (httpx.get(server.base_url + "/files"), 401),
        (api.get("/files/file_missing"), 404),
        (api.get("/files", params={"limit": -1}), 400),
        (api.get("/no/such/route"), 404),
        (api.patch("/files/x"), 405),
        (httpx.get(server.base_url + "/files/x/content?signature=x&expires=1&tenant=t"), 403),
    ]
    types = set()
    for resp, status in cases:
        err = assert_error(resp, status)
        assert err["id"].startswith("req_")
        assert "Traceback" not in err["message"]
        types.add(err["type"])
    assert {
        "authentication_error",
        "not_found_error",
        "invalid_request_error",
        "permission_error",
    } <= types


def test_success_responses_carry_a_request_id_too(api):
    r = api.get("/files")
    assert r.headers["x-request-id"].startswith("req_")
