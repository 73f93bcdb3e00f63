"""No log line carries a signed URL's signature (issue 26, item 14): whoever reads the
logs must not be able to fetch the files or PUT to the uploads."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.server.helpers import unique, upload


def _signature(url: str) -> str:
    return parse_qs(urlsplit(url).query)["signature"][0]


def test_signatures_never_reach_the_log(server, api):
    f = upload(api, unique(), "x.bin").json()
    assert httpx.get(f["url"]).status_code == 200
    assert httpx.head(f["url"]).status_code == 200
    tampered = f["url"].replace("signature=", "signature=0")
    assert httpx.get(tampered).status_code in (401, 403)
    p = api.post("/files/presigned-url", json={"filename": "p.bin"}).json()
    put = httpx.put(p["url"], content=unique())
    assert put.status_code == 200
    secrets = [_signature(f["url"]), _signature(tampered)]
    if urlsplit(p["url"]).netloc == urlsplit(server.origin).netloc:  # PUT to our server
        secrets.append(_signature(p["url"]))
    log = server.log()
    assert f"/v1/files/{f['id']}/content?" in log  # the requests were logged...
    assert "signature=REDACTED" in log
    for secret in secrets:
        assert secret not in log  # ...without their signatures
