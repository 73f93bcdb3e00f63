"""One JSON error shape for every failure (the shape the official SDK reads)."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from tests.server.helpers import assert_error
from tests.support.server import free_port
from vlmfiles.server.app import create_app
from vlmfiles.server.metadata.migrate import upgrade
from vlmfiles.server.settings import Settings


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
    # The upload too.
    r = api.post("/files", files={"file": ("a.txt", b"request ids")})
    assert r.status_code == 201 and r.headers["x-request-id"].startswith("req_")


def test_upload_errors_have_the_one_shape(server, api):
    no_key = httpx.post(server.base_url + "/files", files={"file": ("a.txt", b"x")})
    bad_purpose = api.post("/files", params={"purpose": "nope"}, files={"file": ("a", b"x")})
    no_file = api.post("/files", files={"other": ("a.txt", b"x")})
    for resp, status in [(no_key, 401), (bad_purpose, 400), (no_file, 400)]:
        err = assert_error(resp, status)
        assert err["id"].startswith("req_") and resp.headers["x-request-id"] == err["id"]


def test_a_bug_is_a_500_in_the_shape_and_the_connection_is_closed_cleanly(tmp_path):
    """An unexpected exception: a 500 in the one shape, naming the request id, never the
    traceback; and ``Connection: close``, because uvicorn closes the connection after that
    answer (a client that sent its next request on it met a connection reset). The real app
    and uvicorn, in this process, with one route added that fails, and the upload route
    made to fail (its key lookup, ``auth.upload_tenant``)."""
    settings = Settings(data_dir=tmp_path / "data", port=free_port())
    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url)
    app = create_app(settings)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("a bug, with a secret in its message")

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="critical")
    )
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.05)

        class BrokenKeys:
            def get(self, key_hash: str) -> None:
                raise RuntimeError("a bug in the upload, with a secret in its message")

        app.state.recent_keys = BrokenKeys()
        upload = {"files": {"file": ("a.txt", b"x")}, "headers": {"Authorization": "Bearer k"}}
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.port}") as c:
            for _ in range(3):
                for r in (c.get("/v1/boom"), c.post("/v1/files", **upload)):
                    err = assert_error(r, 500, "quote request id")
                    assert err["id"] in err["message"] and "secret" not in err["message"]
                    assert r.headers["x-request-id"] == err["id"]
                    assert r.headers["connection"] == "close"
                    assert c.get("/healthz").status_code == 200  # the next one, unharmed
    finally:
        server.should_exit = True
        thread.join(10)
