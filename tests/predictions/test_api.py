"""The predictions API over HTTP, on a real server per stack (tests/predictions/conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import time
import uuid

import pytest
from PIL import Image

from tests.predictions.conftest import SYNC_WAIT, TIME_LIMIT, job_slots, wait_final


def png_bytes(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, "PNG")
    return buf.getvalue()


def test_sync_generate_answers_completed_with_the_result(papi, upload):
    data = b"%PDF-1.4 not really " + uuid.uuid4().bytes
    f = upload(data, "a.pdf")
    r = papi.post(
        "/document/generate",
        json={"file_id": f["id"], "domain": "document.test-echo", "batch": False},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert body["id"].startswith("pred_")
    assert body["created_at"].endswith("Z") and body["completed_at"].endswith("Z")
    assert body["response"]["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["usage"]["elements_processed"] == 1
    assert body["usage"]["duration_seconds"] >= 0
    assert body["engine"] == "test" and body["error"] is None
    assert body["domain"] == "document.test-echo"


def test_batch_answers_at_once_and_the_worker_completes_it(papi, upload):
    f = upload(b"batch " + uuid.uuid4().bytes)
    r = papi.post(
        "/document/generate",
        json={"file_id": f["id"], "domain": "document.test-echo", "batch": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] in ("enqueued", "pending", "running")
    assert r.json()["response"] is None
    assert r.json()["usage"] == {}
    done = wait_final(papi, r.json()["id"])
    assert done["status"] == "completed", done
    assert done["response"]["files"][0]["bytes"] == f["bytes"]


def test_sync_past_its_wait_answers_pending_and_completes_later(papi, upload):
    f = upload(b"slow " + uuid.uuid4().bytes)
    r = papi.post(
        "/document/generate",
        json={
            "file_id": f["id"],
            "domain": "document.test-sleep",
            "config": {"seconds": SYNC_WAIT + 1},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] in ("enqueued", "pending", "running")
    assert wait_final(papi, r.json()["id"])["status"] == "completed"


def test_listing_is_a_bare_array_newest_first(papi, upload):
    f = upload(b"list " + uuid.uuid4().bytes)
    ids = []
    for _ in range(3):
        r = papi.post(
            "/document/generate",
            json={"file_id": f["id"], "domain": "document.test-echo", "batch": True},
        )
        ids.append(r.json()["id"])
    listed = papi.get("/predictions", params={"limit": 10}).json()
    assert isinstance(listed, list)
    assert [p["id"] for p in listed] == ids[::-1]
    page = papi.get("/predictions", params={"skip": 1, "limit": 1}).json()
    assert [p["id"] for p in page] == [ids[1]]
    assert "inputs" not in listed[0]


def test_another_tenants_prediction_and_file_are_not_found(pred_server, papi, upload):
    f = upload(b"mine " + uuid.uuid4().bytes)
    r = papi.post(
        "/document/generate",
        json={"file_id": f["id"], "domain": "document.test-echo", "batch": True},
    )
    pred_id = r.json()["id"]
    with pred_server.client(pred_server.new_key(f"o-{uuid.uuid4().hex[:8]}")) as other:
        assert other.get(f"/predictions/{pred_id}").status_code == 404
        assert other.get("/predictions").json() == []
        r = other.post(
            "/document/generate", json={"file_id": f["id"], "domain": "document.test-echo"}
        )
        assert r.status_code == 404, r.text
        # its signed URL names the owner: refused for anyone else
        r = other.post("/document/generate", json={"url": f["url"], "domain": "document.test-echo"})
        assert r.status_code == 400 and "another tenant" in r.text


@pytest.mark.parametrize("route", ["document", "image", "audio", "video"])
def test_unknown_domain_is_a_400_listing_the_domains(papi, route):
    body = {"domain": "document.nope", "url": "https://example.com/x.pdf"}
    if route == "image":
        body = {"domain": "image.nope", "urls": ["https://example.com/x.png"]}
    r = papi.post(f"/{route}/generate", json=body)
    assert r.status_code == 400, r.text
    assert "document.invoice" in r.json()["error"]["message"]


def test_domains_models_and_missing_inputs(papi):
    domains = [d["domain"] for d in papi.get("/domains").json()]
    assert {"document.invoice", "document.markdown", "image.classification"} <= set(domains)
    models = papi.get("/models").json()
    assert {"model": "vlm-1", "domain": "document.invoice"} in models
    r = papi.post("/document/generate", json={"domain": "document.test-echo"})
    assert r.status_code == 400 and "file_id" in r.text
    r = papi.post("/image/generate", json={"domain": "image.test-echo", "images": []})
    assert r.status_code == 400


def test_own_file_urls_are_read_from_the_store(papi, upload):
    data = b"own url " + uuid.uuid4().bytes
    f = upload(data)
    sha = hashlib.sha256(data).hexdigest()
    for url in (f["url"], papi.base_url.join(f"/v1/files/{f['id']}/content").__str__()):
        r = papi.post("/document/generate", json={"url": url, "domain": "document.test-echo"})
        assert r.status_code == 200, r.text
        assert r.json()["response"]["files"][0]["sha256"] == sha
    tampered = f["url"].replace("signature=", "signature=0")
    r = papi.post("/document/generate", json={"url": tampered, "domain": "document.test-echo"})
    assert r.status_code == 400 and "signature" in r.text


def test_base64_images(papi):
    images = [png_bytes("red"), png_bytes("blue")]
    urls = ["data:image/png;base64," + base64.b64encode(i).decode() for i in images]
    r = papi.post("/image/generate", json={"images": urls, "domain": "image.test-echo"})
    assert r.status_code == 200, r.text
    files = r.json()["response"]["files"]
    assert [x["sha256"] for x in files] == [hashlib.sha256(i).hexdigest() for i in images]
    assert files[0]["media_type"] == "image/png"
    bad = papi.post(
        "/image/generate",
        json={"images": ["data:image/png;base64,@@@"], "domain": "image.test-echo"},
    )
    assert bad.status_code == 400 and "base64" in bad.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x.pdf",
        "http://localhost/x.pdf",
        "http://10.1.2.3/x.pdf",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.pdf",
        "file:///etc/passwd",
    ],
)
def test_private_and_non_http_urls_are_refused_at_submit(papi, url):
    r = papi.post("/document/generate", json={"url": url, "domain": "document.test-echo"})
    assert r.status_code == 400, r.text


def test_a_name_resolving_to_a_private_address_fails_when_fetched(papi):
    host = socket.gethostname()
    address = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0]
    r = papi.post(
        "/document/generate",
        json={"url": f"http://{host}:9/x.pdf", "domain": "document.test-echo"},
    )
    assert r.status_code == 200, r.text
    body = wait_final(papi, r.json()["id"])
    assert body["status"] == "failed"
    assert address in body["error"]["message"] and "private" in body["error"]["message"]
    assert body["usage"]["message"] == body["error"]["message"]


def test_a_file_deleted_before_its_job_runs_fails_it_clearly(pred_server, papi, upload):
    # Every job slot busy for 2 s, so the job below waits in the queue while its file goes.
    blocker = upload(b"blocker " + uuid.uuid4().bytes)
    blockers = [
        papi.post(
            "/document/generate",
            json={
                "file_id": blocker["id"],
                "domain": "document.test-sleep",
                "config": {"seconds": 3},
                "batch": True,
            },
        ).json()["id"]
        for _ in range(job_slots(pred_server))
    ]
    # Wait until every slot really runs one (a scale worker may hold queued messages while
    # another sits idle), so no idle slot can take the job below before the delete.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = [papi.get(f"/predictions/{b}").json()["status"] for b in blockers]
        if all(st == "running" for st in states):
            break
        time.sleep(0.05)
    f = upload(b"doomed " + uuid.uuid4().bytes)
    r = papi.post(
        "/document/generate",
        json={"file_id": f["id"], "domain": "document.test-echo", "batch": True},
    )
    assert papi.delete(f"/files/{f['id']}").status_code == 200
    body = wait_final(papi, r.json()["id"])
    assert body["status"] == "failed"
    assert f["id"] in body["error"]["message"] and "deleted" in body["error"]["message"]


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("document.test-fail", "the test engine was told to fail"),
        ("document.test-crash", "the engine crashed: ZeroDivisionError: division by zero"),
    ],
)
def test_an_engine_error_fails_the_job_with_its_reason(papi, upload, domain, reason):
    f = upload(b"fail " + uuid.uuid4().bytes)
    r = papi.post("/document/generate", json={"file_id": f["id"], "domain": domain})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "failed", body
    assert body["error"] == {"message": reason}
    assert body["usage"]["message"] == reason
    assert body["response"] is None
    assert body["attempts"] == 1  # not retried


def test_a_job_past_its_time_limit_fails(papi, upload):
    f = upload(b"forever " + uuid.uuid4().bytes)
    r = papi.post(
        "/document/generate",
        json={
            "file_id": f["id"],
            "domain": "document.test-sleep",
            "config": {"seconds": TIME_LIMIT * 5},
            "batch": True,
        },
    )
    body = wait_final(papi, r.json()["id"], timeout=TIME_LIMIT * 4)
    assert body["status"] == "failed", body
    assert "time limit" in body["error"]["message"]


def test_an_invoice_through_the_offline_engine(papi, upload, tmp_path):
    from tests.support.invoices import invoice_sample

    sample = invoice_sample(3)
    f = upload(sample.pdf(tmp_path / "inv.pdf").read_bytes(), "inv.pdf")
    r = papi.post("/document/generate", json={"file_id": f["id"], "domain": "document.invoice"})
    body = r.json()
    assert body["status"] == "completed", body
    assert body["response"]["invoice_number"] == sample.expected["invoice_id"]
    assert body["response"]["total_amount"] == sample.expected["total_amount"]
    assert body["engine"].startswith("offline")


def test_schema_and_hub(papi):
    s = papi.post("/schema", json={"domain": "document.invoice", "config": {}}).json()
    assert {"domain", "schema_version", "schema_hash", "gql_stmt", "json_schema"} <= set(s)
    assert "invoice_number" in s["json_schema"]["properties"]
    assert "total_amount" in s["json_schema"]["properties"]
    echoed = papi.post(
        "/schema", json={"domain": "x.y", "config": {"json_schema": {"type": "object"}}}
    ).json()
    assert echoed["json_schema"] == {"type": "object"}
    r = papi.post("/schema", json={"domain": "document.nope"})
    assert r.status_code == 400 and "document.invoice" in r.text
    assert papi.get("/hub/info").json()["version"] == "0.1.35"
    hub = [d["domain"] for d in papi.get("/hub/domains").json()]
    assert "document.receipt" in hub and len(hub) >= 31
    h = papi.post("/hub/schema", json={"domain": "document.receipt", "gql_stmt": None}).json()
    assert h["domain"] == "document.receipt" and h["gql_stmt"] == ""
    assert "total" in h["json_schema"]["properties"]
