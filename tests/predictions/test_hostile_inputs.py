"""Hostile inputs through the API: each a clear 4xx or a failed job with the reason, and the
server unharmed (its memory included, where the jobs run in it)."""

from __future__ import annotations

import base64
import uuid

import psutil
import pytest

from tests.engines.test_hostile import _png
from tests.predictions.conftest import wait_final


def _data_url(data: bytes, media: str = "image/png") -> str:
    return f"data:{media};base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: _png(p, 20_000, 20_000), "pixels"),  # decompression bomb
        (lambda p: _png(p, 30_000, 30_000, rows=4), "pixels"),  # a truncated giant
    ],
)
def test_image_bombs_fail_their_job_and_leave_the_server_unharmed(
    pred_server, papi, tmp_path, make, reason
):
    data = make(tmp_path / "bomb.png").read_bytes()
    rss = psutil.Process(pred_server.proc.pid).memory_info().rss
    r = papi.post(
        "/image/generate", json={"images": [_data_url(data)], "domain": "image.classification"}
    )
    assert r.status_code == 200, r.text
    body = wait_final(papi, r.json()["id"])
    assert body["status"] == "failed", body
    assert reason in body["error"]["message"]
    grown = psutil.Process(pred_server.proc.pid).memory_info().rss - rss
    assert grown < 200 * 1024 * 1024, grown
    assert papi.get("/domains").status_code == 200


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"%PDF-1.7\n" + b"\x00garbage" * 100, "PDF"), (b"not a document at all\n" * 10, "")],
)
def test_malformed_documents_fail_with_a_reason(papi, upload, body, needle):
    f = upload(body + uuid.uuid4().bytes, "bad.pdf")
    r = papi.post("/document/generate", json={"file_id": f["id"], "domain": "document.markdown"})
    assert r.status_code == 200, r.text
    done = wait_final(papi, r.json()["id"])
    assert done["status"] == "failed", done
    assert needle in done["error"]["message"] and done["error"]["message"]


def test_an_empty_data_url_and_an_oversized_body_are_4xx(papi):
    r = papi.post(
        "/image/generate",
        json={"images": ["data:image/png;base64,"], "domain": "image.classification"},
    )
    assert r.status_code == 400 and "no bytes" in r.text
    huge = "data:image/png;base64," + "A" * (26 * 1024 * 1024)
    r = papi.post("/image/generate", json={"images": [huge], "domain": "image.classification"})
    assert r.status_code == 413 and "file_id" in r.text
