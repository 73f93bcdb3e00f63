"""A client may send the file's sha256 as a form field before the file (our SDK does): the
server checks the bytes against it, and on S3 writes them to their final key at once. Sent
after the file (our SDK does that for large files it hashes while sending), it is checked
the same way."""

from __future__ import annotations

import io

from tests.server.helpers import assert_error, sha256, unique

MiB = 1024 * 1024


def _post(api, content: bytes, declared: str):
    # The field comes first, as the SDK sends it: the server knows it before any file byte.
    return api.post(
        "/files",
        data={"sha256": declared},
        files={"file": ("d.bin", io.BytesIO(content))},
    )


def test_the_right_sha256_is_accepted(api, server):
    content = unique(20 * MiB)  # several S3 parts: the multipart path
    r = _post(api, content, sha256(content).upper())  # hex in either case
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["sha256"] == sha256(content)
    assert api.get(f"/files/{f['id']}/content").content == content
    assert sha256(content) in server.blob_keys()
    assert server.settled_staging() == []


def test_a_wrong_sha256_stores_nothing(api, server):
    content = unique(20 * MiB)
    wrong = sha256(b"something else")
    before = server.blob_keys()
    err = assert_error(_post(api, content, wrong), 400, "do not match", sha256(content), wrong)
    assert err["type"] == "invalid_request_error"
    assert server.blob_keys() == before  # nothing under either key
    assert server.settled_staging() == []  # the multipart upload under blobs/ was aborted
    assert api.get(f"/files/hash/{sha256(content)}").status_code == 404


def test_a_wrong_sha256_never_touches_a_stored_blob(api, server):
    """Declaring the sha256 of a file that exists, with other bytes: the stored blob is
    untouched (on S3 the upload was staged under that very key, then aborted)."""
    stored = unique(12 * MiB)
    first = _post(api, stored, sha256(stored)).json()
    assert_error(_post(api, unique(12 * MiB), sha256(stored)), 400, "do not match")
    assert api.get(f"/files/{first['id']}/content").content == stored
    assert server.settled_staging() == []


def test_a_malformed_sha256_is_refused(api):
    assert_error(_post(api, b"abc", "not-a-digest"), 400, "sha256", "64 hex digits")


def _post_after(api, content: bytes, declared: str):
    """The field after the file part, as the SDK sends it when it hashes while sending."""
    b = "b0undary"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="late.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += (
        content
        + (
            f'\r\n--{b}\r\nContent-Disposition: form-data; name="sha256"\r\n\r\n'
            f"{declared}\r\n--{b}--\r\n"
        ).encode()
    )
    return api.post(
        "/files", content=body, headers={"Content-Type": f"multipart/form-data; boundary={b}"}
    )


def test_a_sha256_after_the_file_is_checked_too(api, server):
    content = unique(6 * MiB)
    before = server.blob_keys()
    assert_error(_post_after(api, content, sha256(b"other")), 400, "do not match")
    assert server.blob_keys() == before
    assert server.settled_staging() == []
    r = _post_after(api, content, sha256(content))
    assert r.status_code == 201, r.text
    assert api.get(f"/files/{r.json()['id']}/content").content == content


def test_health_tells_the_sdk_when_to_send_the_sha256(api, server):
    """An S3-backed server wants the sha256 first (it then writes in place, no copy); the
    local store takes it as well after the bytes."""
    r = api.get("/health")
    on_s3 = server.env.get("VLMFILES_STORAGE_URL", "").startswith("s3")
    assert r.headers["Vlmfiles-Upload-Sha256"] == ("first" if on_s3 else "any")
