"""Outside URLs, fetched by the worker: on a server that may reach loopback (the test's
own HTTP server stands in for the internet), with a small input limit."""

from __future__ import annotations

import hashlib
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.predictions.conftest import pred_env, wait_final
from tests.support.server import ServerProcess

LIMIT = 64 * 1024
BODY = b"%PDF-1.4 outside " + uuid.uuid4().bytes


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/doc.pdf":
            self._send(200, BODY)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/doc.pdf")
            self.end_headers()
        elif self.path == "/big":
            self._send(200, b"x" * (LIMIT + 1))
        else:
            self._send(404, b"no")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def origin():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    env = pred_env(
        VLMFILES_ALLOW_PRIVATE_URLS="true",
        VLMFILES_MAX_INPUT_BYTES=str(LIMIT),
        VLMFILES_JOB_MAX_RETRIES="1",
    )
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("urls") / "data", env=env)
    srv.start()
    with srv.client() as c:
        yield c
    srv.stop()


def _run(api, url: str) -> dict:
    r = api.post("/document/generate", json={"url": url, "domain": "document.test-echo"})
    assert r.status_code == 200, r.text
    return wait_final(api, r.json()["id"])


@pytest.mark.parametrize("path", ["/doc.pdf", "/redirect"])
def test_an_outside_url_is_fetched(api, origin, path):
    body = _run(api, origin + path)
    assert body["status"] == "completed", body
    got = body["response"]["files"][0]
    assert got["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert got["media_type"] == "application/pdf"


@pytest.mark.parametrize(("path", "reason"), [("/big", "over the limit"), ("/missing", "HTTP 404")])
def test_an_unusable_url_fails_the_job_with_the_reason(api, origin, path, reason):
    body = _run(api, origin + path)
    assert body["status"] == "failed"
    assert reason in body["error"]["message"]


def test_a_transient_fault_is_retried_then_fails_with_the_reason(api):
    # Nothing listens on port 1: connection refused, a network fault worth retrying.
    body = _run(api, "http://127.0.0.1:1/doc.pdf")
    assert body["status"] == "failed", body
    assert body["attempts"] == 2
    assert "gave up after 2 attempts" in body["error"]["message"]
