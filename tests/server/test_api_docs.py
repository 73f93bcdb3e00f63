"""``/docs`` works offline and ``/openapi.json`` is a reference a user can trust: the key can
be sent from "Try it out", each operation lists the errors it really answers, 400 (never
FastAPI's 422), the seven purposes as an enum. ``tests/reliability/test_fuzz.py`` checks
the real answers against it."""

from __future__ import annotations

import re

import httpx

from vlmfiles.server.sniff import PURPOSES


def test_docs_load_their_assets_from_this_server(server):
    page = httpx.get(server.origin + "/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and all(a.startswith("/") for a in assets), assets  # no CDN
    for asset in assets:
        got = httpx.get(server.origin + asset)
        assert got.status_code == 200 and len(got.content) > 500, asset
    assert "/openapi.json" in page.text


def test_openapi_sends_the_key_and_tells_the_true_errors(server):
    doc = httpx.get(server.origin + "/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    ops = {(m, p): op for p, item in doc["paths"].items() for m, op in item.items()}
    for (method, path), op in ops.items():
        codes = set(op["responses"])
        assert "422" not in codes, (method, path)
        assert op.get("description"), (method, path)
        for code in codes - {"200", "201", "206", "304"}:  # a 304 has no body
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorObject"}, (method, path, code)
        if (method, path) != ("put", "/v1/uploads/{upload_id}"):
            assert "401" in codes and op["security"][0] == {"apiKey": []}, (method, path)
    assert set(ops["get", "/v1/health"]["responses"]) == {"200", "401", "503"}
    assert "413" in ops["post", "/v1/files"]["responses"]
    assert "413" not in ops["get", "/v1/files/{file_id}"]["responses"]
    assert ops["put", "/v1/uploads/{upload_id}"]["security"] == []  # the URL is signed
    content = ops["get", "/v1/files/{file_id}/content"]["responses"]["200"]["content"]
    assert list(content) == ["*/*"]  # served with the file's own type
    head = ops["head", "/v1/files/{file_id}/content"]["responses"]
    assert {"200", "206", "304", "404"} <= set(head)  # HEAD answers what GET does, no body


def test_purpose_is_an_enum_everywhere(server):
    doc = httpx.get(server.origin + "/openapi.json").text
    found = re.findall(r'"enum":\s*\[("fine-tune"[^\]]*)\]', doc)
    assert len(found) >= 5  # upload (query, form), list, hash, presigned-url
    for values in found:
        assert re.findall(r'"([^"]+)"', values) == list(PURPOSES)


def test_405_allows_every_method_of_the_path(api):
    r = api.request("OPTIONS", "/files/file_0123456789abcdef01234567")
    assert r.status_code == 405 and r.headers["allow"] == "GET, DELETE"
    assert "GET, DELETE" in r.json()["error"]["message"]
    assert api.request("PATCH", "/files").headers["allow"] == "GET, POST"
    assert api.request("GET", "/files/presigned-url").status_code == 404  # a file id
    assert api.request("DELETE", "/files/presigned-url").status_code == 404
    assert api.request("PUT", "/files/presigned-url").headers["allow"] == "POST"
