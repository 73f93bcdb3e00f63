"""Bad input: a clear 4xx in the one error shape, and nothing stored."""

from __future__ import annotations

import io
import socket
import uuid

import httpx
import pytest

from tests.conftest import SMALL_LIMIT
from tests.server.helpers import assert_error, png, unique, upload


def _staging(server) -> list:
    return server.staging()


def _count(api) -> int:
    return len(api.get("/files", params={"limit": 1000}).json())


def test_unknown_purpose_names_the_valid_ones(api):
    r = upload(api, unique(), purpose="training")
    err = assert_error(r, 400, "training", "fine-tune", "assistants", "vision", "datasets")
    assert err["type"] == "invalid_request_error"
    assert_error(api.get("/files", params={"purpose": "nope"}), 400, "valid purposes")
    assert_error(
        api.post("/files/presigned-url", json={"filename": "a", "purpose": "nope"}), 400, "purpose"
    )


def test_vision_takes_images_only_judged_by_bytes(api):
    r = upload(api, b"%PDF-1.7 not an image at all", "photo.png", purpose="vision")
    assert_error(r, 415, "vision", "image/png", "application/pdf")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert_error(upload(api, svg, "x.png", purpose="vision"), 415, "image/svg+xml")
    assert upload(api, png(unique()), "no-extension", purpose="vision").status_code == 201
    assert _count(api) == 1


def test_fine_tune_requires_json_that_parses(api):
    assert_error(upload(api, b'{"a": 1}\n{"b": \n', "t.jsonl", purpose="fine-tune"), 415, "line 2")
    assert_error(upload(api, png(), "t.json", purpose="fine-tune"), 415, "JSON")
    assert_error(upload(api, b"just words", "t.json", purpose="fine-tune"), 415, "JSON")
    assert _count(api) == 0


def test_zero_bytes(api, server):
    assert_error(upload(api, b"", "empty.txt"), 400, "empty")
    p = api.post("/files/presigned-url", json={"filename": "e"}).json()
    # The PUT is taken (as an object store would); verification refuses it, every time.
    assert httpx.put(p["url"], content=b"").status_code == 200
    assert_error(api.get(f"/files/verify-upload/{p['id']}"), 400, "empty")
    assert_error(api.get(f"/files/verify-upload/{p['id']}"), 400, "empty")
    if server.is_s3:
        assert server.blob_store().incoming_size(p["id"]) is None
    assert _count(api) == 0 and _staging(server) == []


def test_presigned_upload_of_the_wrong_type_is_refused_at_verify(api, server):
    p = api.post("/files/presigned-url", json={"filename": "x.png", "purpose": "vision"}).json()
    put = httpx.put(p["url"], content=b"%PDF-1.7 not an image")
    assert put.status_code == 200
    assert_error(api.get(f"/files/verify-upload/{p['id']}"), 415, "vision", "application/pdf")
    assert_error(api.get(f"/files/verify-upload/{p['id']}"), 415, "vision")
    if not server.is_s3:  # through our server the URL is spent
        assert httpx.put(p["url"], content=b"again").status_code == 409
    assert _count(api) == 0 and _staging(server) == []


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("../../x", "x"),
        ("..", "file"),
        (".", "file"),
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        ("a\r\nX-Injected: 1.txt", None),  # the CRLF ends the header: no injected header
        ("rtl\u202egpj.exe", "rtlgpj.exe"),
        ("zero\x00byte.txt", "zerobyte.txt"),
        ("é名前.txt", "é名前.txt"),
    ],
)
def test_hostile_filenames_are_neutralised(api, raw, stored):
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{raw}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + unique()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = api.post(
        "/files",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 201, r.text
    f = r.json()
    if stored is not None:
        assert f["filename"] == stored
    assert not any(c in f["filename"] for c in "\r\n\x00/\\\u202e")
    download = api.get(f"/files/{f['id']}/content")
    assert "x-injected" not in download.headers
    cd = download.headers["content-disposition"]
    assert "\r" not in cd and "\n" not in cd and "/" not in cd.split("filename*")[0]


def test_long_filename_is_cut_to_255_bytes_keeping_the_extension(api):
    r = upload(api, unique(), "a" * 4096 + ".pdf")
    name = r.json()["filename"]
    assert len(name.encode()) <= 255 and name.endswith(".pdf")


def test_html_and_svg_download_as_attachments_with_nosniff(api):
    for content, ctype in [
        (b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>", "text/html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
    ]:
        f = upload(api, content + unique(8).hex().encode(), "innocent.png").json()
        assert f["content_type"] == ctype
        r = httpx.get(f["url"])
        assert r.headers["content-disposition"].startswith("attachment")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]


@pytest.mark.parametrize(
    "content_type, body, words",
    [
        ("application/json", b'{"file": "x"}', ["multipart/form-data"]),
        ("multipart/form-data", b"--x--", ["boundary"]),
        ("multipart/form-data; boundary=abc", b"garbage without boundary", ["malformed"]),
        (
            "multipart/form-data; boundary=abc",
            b'--abc\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--abc--\r\n',
            ["no part named 'file'"],
        ),
        (
            "multipart/form-data; boundary=abc",
            b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nunfinished',
            ["ended before"],
        ),
        (
            "multipart/form-data; boundary=abc",
            b"--abc\r\nContent-Disposition: attachment\r\n\r\nv\r\n--abc--\r\n",
            ["form-data"],
        ),
        (
            "multipart/form-data; boundary=abc",
            b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n1\r\n'
            b'--abc\r\nContent-Disposition: form-data; name="file"; filename="b"\r\n\r\n2\r\n--abc--\r\n',
            ["exactly one"],
        ),
        (
            "multipart/form-data; boundary=abc",
            b"--abc\r\nbroken header line\r\n\r\nv\r\n--abc--\r\n",
            ["malformed"],
        ),
    ],
)
def test_malformed_multipart(api, server, content_type, body, words):
    r = api.post("/files", content=body, headers={"Content-Type": content_type})
    assert_error(r, 400, *words)
    assert _staging(server) == []


def test_too_many_parts_and_huge_fields(api, server):
    parts = b"".join(
        b'--abc\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(5000)
    )
    r = api.post(
        "/files",
        content=parts + b"--abc--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=abc"},
    )
    assert_error(r, 400, "too many parts")
    field = b'--abc\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n' + b"a" * 100_000
    r = api.post(
        "/files",
        content=field + b"\r\n--abc--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=abc"},
    )
    assert_error(r, 400, "longer than")
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
    r = api.post(
        "/files",
        content=b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n'
        + headers
        + b"\r\nbody\r\n--abc--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=abc"},
    )
    assert_error(r, 400, "malformed")
    assert _staging(server) == []


def test_megabytes_of_preamble_are_refused_early(api):
    body = b"\r\n" * (4 * 1024 * 1024) + b"--abc--\r\n"
    r = api.post(
        "/files", content=body, headers={"Content-Type": "multipart/form-data; boundary=abc"}
    )
    assert_error(r, 400, "first")


def test_too_large_with_content_length_says_the_limit(small_server):
    with small_server.client() as api:
        r = upload(api, unique(SMALL_LIMIT + 1))
        assert_error(r, 413, "limit of 1 MiB per file")
        r = upload(api, unique(SMALL_LIMIT * 3))  # refused on its declared length alone
        assert_error(r, 413, "the request is 3 MiB, over this server's limit of 1 MiB per file")
        assert _staging(small_server) == []


def test_too_large_streamed_without_content_length(small_server):
    def chunks():
        yield (b'--abc\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n')
        for _ in range(3):
            yield unique(SMALL_LIMIT // 2)
        yield b"\r\n--abc--\r\n"

    with small_server.client() as api:
        r = api.post(
            "/files",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=abc"},
        )
        assert_error(r, 413, "limit of 1 MiB per file")
        # Exactly the limit is fine.
        assert upload(api, unique(SMALL_LIMIT)).status_code == 201
        assert _staging(small_server) == []


def test_presigned_put_over_the_limit(small_server):
    with small_server.client(small_server.new_key(f"o-{uuid.uuid4().hex[:8]}")) as api:
        p = api.post("/files/presigned-url", json={"filename": "a"}).json()
        put = httpx.put(p["url"], content=unique(SMALL_LIMIT + 10))
        if small_server.is_s3:
            # A presigned PUT cannot carry a size limit; verification enforces it and
            # removes the object.
            assert put.status_code == 200
            assert_error(api.get(f"/files/verify-upload/{p['id']}"), 413, "limit")
            assert small_server.blob_store().incoming_size(p["id"]) is None
            assert_error(api.get(f"/files/verify-upload/{p['id']}"), 413, "limit")
        else:
            assert_error(put, 413, "limit")
            assert_error(api.get(f"/files/verify-upload/{p['id']}"), 409, "not received")
        assert api.get("/files").json() == []


def test_bad_query_values_are_400_not_422(api):
    assert_error(api.get("/files", params={"limit": 0}), 400, "limit")
    assert_error(api.get("/files", params={"limit": "ten"}), 400, "limit")
    assert_error(api.get("/files", params={"skip": -1}), 400, "skip")
    assert_error(api.get("/files", params={"after": "file_nope"}), 400, "cursor")
    assert_error(api.get("/files/hash/xyz"), 400, "hex")
    assert_error(api.post("/files/presigned-url", json={}), 400, "filename")
    assert_error(
        api.post(
            "/files/presigned-url", content=b"{", headers={"content-type": "application/json"}
        ),
        400,
    )
    assert_error(
        api.post("/files/presigned-url", json={"filename": "a", "expiration": 10**9}),
        400,
        "expiration",
    )


def test_negative_or_junk_content_length_is_refused(server, api):
    key = api.headers["authorization"]
    for cl in ("-5", "abc"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(
                f"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\n"
                f"Content-Type: multipart/form-data; boundary=abc\r\nContent-Length: {cl}\r\n\r\n".encode()
            )
            status = s.recv(1024).split(b" ", 2)[1]
        assert status == b"400"


def test_unknown_route_and_method_use_the_error_shape(api):
    assert_error(api.get("/nothing-here"), 404, "no route")
    assert_error(api.put("/files"), 405, "not allowed")


def test_upload_without_file_part_via_form_only(api):
    r = api.post("/files", data={"purpose": "batch"})
    assert r.status_code == 400


def test_bytes_io_upload_works(api):
    r = api.post("/files", files={"file": ("b.bin", io.BytesIO(unique()))})
    assert r.status_code == 201
