"""HEAD and conditional GETs on file content, as S3 and the CDNs in front of us expect
(issue 26, item 11)."""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime

import httpx
import pytest

from tests.server.helpers import unique, upload


@pytest.fixture(params=["stored", "inline"])
def file(api, request):
    """A file in the blob store, and one small enough to live in the database."""
    size = 2 * 1024 * 1024 if request.param == "stored" else 1000
    return upload(api, unique(size), "x.bin").json()


def test_head_gives_the_headers_of_get_and_no_body(api, file):
    path = f"/files/{file['id']}/content"
    got, head = api.get(path), api.head(path)
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "last-modified", "content-length", "content-type", "accept-ranges"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == file["bytes"]
    ranged = api.head(path, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == b""
    assert ranged.headers["content-range"] == f"bytes 10-19/{file['bytes']}"
    assert httpx.head(file["url"]).status_code == 200  # by signed URL too
    assert api.head("/files/file_nope/content").status_code == 404


def test_if_none_match_and_if_modified_since_give_304(api, file):
    path = f"/files/{file['id']}/content"
    etag = api.head(path).headers["etag"]
    modified = api.head(path).headers["last-modified"]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f"W/{etag}"},
        {"If-None-Match": f'"other", {etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
        {"If-None-Match": etag, "Range": "bytes=0-9"},  # the condition before the range
        {"If-Modified-Since": modified, "Range": "bytes=0-9"},
    ):
        r = api.get(path, headers=headers)
        assert r.status_code == 304 and r.content == b"", headers
        assert r.headers["etag"] == etag
        assert api.head(path, headers=headers).status_code == 304, headers
    earlier = formatdate(parsedate_to_datetime(modified).timestamp() - 60, usegmt=True)
    for headers, status in (
        ({"If-None-Match": '"other"'}, 200),
        ({"If-None-Match": '"other"', "If-Modified-Since": modified}, 200),  # INM decides
        ({"If-Modified-Since": earlier}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-None-Match": '"other"', "Range": "bytes=0-9"}, 206),
    ):
        r = api.get(path, headers=headers)
        assert r.status_code == status, headers
        assert len(r.content) == (10 if status == 206 else file["bytes"])
