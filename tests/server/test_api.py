"""The Files API over HTTP against a real server process: the happy paths."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import httpx

from tests.server.helpers import md5, png, sha256, unique, upload


def test_health_checks_the_key(server, api):
    assert api.get("/health").status_code == 200
    assert httpx.get(server.base_url + "/health").status_code == 401
    bad = httpx.get(server.base_url + "/health", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert httpx.get(server.origin + "/healthz").status_code == 200


def test_upload_returns_201_and_a_complete_file_response(api):
    content = unique(1000)
    r = upload(api, content, "invoice.pdf")
    assert r.status_code == 201
    f = r.json()
    assert f["id"].startswith("file_") and "." not in f["id"]
    assert f["object"] == "file"
    assert f["filename"] == "invoice.pdf"
    assert f["bytes"] == 1000
    assert f["purpose"] == "assistants"
    assert f["sha256"] == sha256(content) and f["md5"] == md5(content)
    created = datetime.fromisoformat(f["created_at"].replace("Z", "+00:00"))
    assert created.tzinfo is not None
    assert abs(created - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert f["url"] == f["public_url"]


def test_get_returns_what_upload_returned(api):
    f = upload(api, unique(), "a.bin").json()
    got = api.get(f"/files/{f['id']}").json()
    for field in ("id", "filename", "bytes", "purpose", "created_at", "sha256", "object"):
        assert got[field] == f[field]


def test_download_by_key_and_by_signed_url_without_key(api):
    content = png(unique(3000))
    f = upload(api, content, "shot.png", purpose="vision").json()
    assert f["content_type"] == "image/png"
    r = api.get(f"/files/{f['id']}/content")
    assert r.status_code == 200 and r.content == content
    assert r.headers["content-type"] == "image/png"
    assert r.headers["etag"] == f'"{f["sha256"]}"'
    anon = httpx.get(f["url"])  # no Authorization header: the prediction service's view
    assert anon.status_code == 200 and anon.content == content


def test_range_requests(api):
    content = unique(10_000)
    f = upload(api, content).json()
    path = f"/files/{f['id']}/content"
    r = api.get(path, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == content[100:200]
    assert r.headers["content-range"] == "bytes 100-199/10000"
    assert api.get(path, headers={"Range": "bytes=9990-"}).content == content[9990:]
    assert api.get(path, headers={"Range": "bytes=-5"}).content == content[-5:]
    r = api.get(path, headers={"Range": "bytes=20000-"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */10000"
    # Multi-range and junk are ignored: the whole file, as RFC 9110 allows.
    assert api.get(path, headers={"Range": "bytes=0-1,5-6"}).content == content
    assert api.get(path, headers={"Range": "lines=1-2"}).content == content
    # If-Range with another ETag: the whole file.
    r = api.get(path, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert r.status_code == 200 and r.content == content
    assert api.get(path, headers={"If-None-Match": f'"{f["sha256"]}"'}).status_code == 304


def test_list_is_newest_first_with_skip_limit_purpose_and_cursor(api):
    ids = [upload(api, unique(), f"f{i}.bin").json()["id"] for i in range(7)]
    vision = upload(api, png(unique()), "v.png", purpose="vision").json()["id"]
    everything = api.get("/files", params={"limit": 100}).json()
    assert isinstance(everything, list)
    assert [f["id"] for f in everything] == [vision, *reversed(ids)]
    assert [f["id"] for f in api.get("/files", params={"limit": 3}).json()] == [
        vision,
        ids[6],
        ids[5],
    ]
    page2 = api.get("/files", params={"skip": 3, "limit": 3}).json()
    assert [f["id"] for f in page2] == [ids[4], ids[3], ids[2]]
    by_cursor = api.get("/files", params={"after": ids[5], "limit": 3}).json()
    assert [f["id"] for f in by_cursor] == [ids[4], ids[3], ids[2]]
    only_vision = api.get("/files", params={"purpose": "vision"}).json()
    assert [f["id"] for f in only_vision] == [vision]
    assert len(api.get("/files").json()) == 8  # default limit 10


def test_cursor_within_one_purpose(api):
    a = upload(api, unique(), "a.bin").json()
    v1 = upload(api, png(unique()), "1.png", purpose="vision").json()["id"]
    b = upload(api, unique(), "b.bin").json()["id"]
    v2 = upload(api, png(unique()), "2.png", purpose="vision").json()["id"]
    below_v2 = {"after": v2, "limit": 10}
    vision = api.get("/files", params={**below_v2, "purpose": "vision"}).json()
    assert [f["id"] for f in vision] == [v1]
    others = api.get("/files", params={**below_v2, "purpose": a["purpose"]}).json()
    assert [f["id"] for f in others] == [b, a["id"]]
    assert [f["id"] for f in api.get("/files", params=below_v2).json()] == [b, v1, a["id"]]


def test_delete_returns_the_record_and_the_file_is_gone(api):
    f = upload(api, unique()).json()
    r = api.delete(f"/files/{f['id']}")
    assert r.status_code == 200 and r.json()["id"] == f["id"]
    assert api.get(f"/files/{f['id']}").status_code == 404
    assert api.get(f"/files/{f['id']}/content").status_code == 404
    assert api.delete(f"/files/{f['id']}").status_code == 404
    assert httpx.get(f["url"]).status_code == 404


def test_lookup_by_md5_and_sha256(api):
    content = unique()
    f = upload(api, content).json()
    assert api.get(f"/files/hash/{md5(content)}").json()["id"] == f["id"]
    assert api.get(f"/files/hash/{sha256(content)}").json()["id"] == f["id"]
    assert api.get(f"/files/hash/{sha256(content).upper()}").json()["id"] == f["id"]
    assert api.get(f"/files/hash/{md5(content)}", params={"purpose": "batch"}).status_code == 404
    assert api.get(f"/files/hash/{md5(b'never uploaded')}").status_code == 404


def test_same_bytes_same_purpose_same_id_and_other_purpose_new_record(api, server):
    content = unique(5000)
    a = upload(api, content, "report.pdf")
    b = upload(api, content, "report.pdf")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    assert (a.headers["x-deduplicated"], b.headers["x-deduplicated"]) == ("false", "true")
    c = upload(api, content, "report.pdf", purpose="batch").json()
    assert c["id"] != a.json()["id"] and c["sha256"] == a.json()["sha256"]
    # The bytes are stored once, under their sha256.
    assert server.stored_bytes(c["sha256"]) == content
    # Deleting one record keeps the other readable; the blob goes with the last one.
    api.delete(f"/files/{a.json()['id']}")
    assert api.get(f"/files/{c['id']}/content").content == content
    api.delete(f"/files/{c['id']}")
    assert c["sha256"] not in server.blob_keys()


def test_presigned_upload_flow(api, server):
    content = unique(20_000)
    p = api.post("/files/presigned-url", json={"filename": "big.zip", "purpose": "datasets"})
    assert p.status_code == 200
    body = p.json()
    assert body["id"].startswith("file_") and body["upload_method"] == "PUT"
    put = httpx.put(body["url"], content=content, headers={"Content-Type": body["content_type"]})
    assert put.status_code == 200, put.text
    v = api.get(f"/files/verify-upload/{body['id']}")
    assert v.status_code == 200
    f = v.json()
    assert (f["id"], f["filename"], f["bytes"], f["purpose"]) == (
        body["id"],
        "big.zip",
        20_000,
        "datasets",
    )
    assert api.get(f"/files/{f['id']}/content").content == content
    # The URL makes one file: through our server a second PUT is refused; an object
    # store accepts it until expiry, but it never becomes a second file.
    again = httpx.put(body["url"], content=b"again")
    if server.is_s3:
        assert api.get(f"/files/verify-upload/{body['id']}").json()["id"] == f["id"]
        assert api.get(f"/files/{f['id']}/content").content == content
        assert [x["id"] for x in api.get("/files").json()] == [f["id"]]
    else:
        assert again.status_code == 409


def test_presigned_upload_of_known_content_verifies_to_the_existing_file(api):
    content = unique()
    first = upload(api, content, purpose="batch").json()
    p = api.post("/files/presigned-url", json={"filename": "x", "purpose": "batch"}).json()
    assert httpx.put(p["url"], content=content).status_code == 200
    assert api.get(f"/files/verify-upload/{p['id']}").json()["id"] == first["id"]


def test_verify_before_put_is_a_conflict(api):
    p = api.post("/files/presigned-url", json={"filename": "x.bin"}).json()
    r = api.get(f"/files/verify-upload/{p['id']}")
    assert r.status_code == 409 and "PUT" in r.json()["error"]["message"]


def test_fine_tune_accepts_json_and_jsonl(api):
    jsonl = b"".join(json.dumps({"i": i, "r": unique(4).hex()}).encode() + b"\n" for i in range(50))
    r = upload(api, jsonl, "train.jsonl", purpose="fine-tune")
    assert r.status_code == 201 and r.json()["content_type"] == "application/x-ndjson"
    doc = json.dumps({"examples": [1, 2, 3], "n": unique(4).hex()}, indent=2).encode()
    r = upload(api, doc, "train.json", purpose="fine-tune")
    assert r.status_code == 201 and r.json()["content_type"] == "application/json"


def test_purpose_may_come_as_a_form_field(api):
    r = api.post(
        "/files",
        data={"purpose": "batch"},
        files={"file": ("x.bin", io.BytesIO(unique()))},
    )
    assert r.status_code == 201 and r.json()["purpose"] == "batch"


def test_openapi_and_docs(server):
    spec = httpx.get(server.origin + "/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/v1/files",
        "/v1/files/{file_id}",
        "/v1/files/{file_id}/content",
        "/v1/files/hash/{digest}",
        "/v1/files/presigned-url",
        "/v1/files/verify-upload/{upload_id}",
        "/v1/uploads/{upload_id}",
        "/v1/health",
    ):
        assert p in paths, p
    assert "multipart/form-data" in paths["/v1/files"]["post"]["requestBody"]["content"]
    assert "201" in paths["/v1/files"]["post"]["responses"]
    assert httpx.get(server.origin + "/docs").status_code == 200


def test_responses_match_the_documented_models(api):
    """Handlers return JSON directly (no per-item validation cost); this keeps the OpenAPI
    models true to what is sent."""
    from vlmfiles.server.models import FileObject, PresignedUrlObject

    f = upload(api, unique()).json()
    FileObject.model_validate(f, strict=True)
    assert set(f) == set(FileObject.model_fields)
    for item in api.get("/files").json():
        FileObject.model_validate(item)
    p = api.post("/files/presigned-url", json={"filename": "x"}).json()
    PresignedUrlObject.model_validate(p)
    assert set(p) == set(PresignedUrlObject.model_fields)
