"""The model engine through a real server: `vlmfiles serve --vlm-base-url ...` pointed at the
fake OpenAI server (tests/support/fake_openai.py), on each stack."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.predictions.conftest import wait_final
from tests.support import vlm
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess
from tests.support.vlm import JOB_RETRIES, VLM_ATTEMPTS

fake = vlm.fake  # the fixtures, shared with tests/compat
vlm_server = vlm.vlm_server
INVOICE = {"invoice_id": "INV-42", "total_amount": 99.5, "currency": "USD"}


@pytest.fixture
def vapi(vlm_server: ServerProcess, fake: FakeOpenAI) -> Iterator[httpx.Client]:
    fake.reset()
    key = vlm_server.new_key(f"t-{uuid.uuid4().hex[:10]}")
    with vlm_server.client(key, timeout=120) as c:
        yield c
    fake.reset()


def image_url(color: str = "white") -> str:
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def generate(api: httpx.Client, domain: str, **extra: Any) -> dict[str, Any]:
    r = api.post("/image/generate", json={"images": [image_url()], "domain": domain, **extra})
    assert r.status_code == 200, r.text
    return wait_final(api, r.json()["id"])


def test_invoice_completes_with_the_models_answer_and_its_tokens(vapi, fake):
    fake.reply(INVOICE, usage={"prompt_tokens": 700, "completion_tokens": 30, "total_tokens": 730})
    body = generate(vapi, "document.invoice")
    assert body["status"] == "completed", body
    assert body["response"]["invoice_id"] == "INV-42"
    assert body["response"]["invoice_number"] == "INV-42"
    assert body["engine"] == f"vlm/{fake.model}"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 700 and usage["total_tokens"] == 730
    assert usage["elements_processed"] == 1 and usage["element_type"] == "image"
    assert isinstance(usage["credits_used"], int) and isinstance(usage["duration_seconds"], int)
    (req,) = fake.requests
    schema = vapi.post("/schema", json={"domain": "document.invoice"}).json()["json_schema"]
    assert req["response_format"]["json_schema"]["schema"] == schema


def test_routing_sends_markdown_offline_and_invoices_to_the_model(vapi, fake):
    body = generate(vapi, "document.markdown")
    assert body["status"] == "completed", body
    assert body["engine"].startswith("offline/")
    assert fake.requests == []
    domains = {d["domain"] for d in vapi.get("/domains").json()}
    assert {"document.invoice", "document.us-passport", "document.markdown"} <= domains


def test_malformed_then_valid_answer_completes_after_two_calls(vapi, fake):
    fake.reply_text("{oops")
    fake.reply(INVOICE)
    body = generate(vapi, "document.invoice")
    assert body["status"] == "completed", body
    assert len(fake.requests) == 2


def test_always_invalid_fails_naming_the_validation_error(vapi, fake):
    for _ in range(2):
        fake.reply({"total_amount": "a lot"})
    body = generate(vapi, "document.invoice", config={"max_retries": 1})
    assert body["status"] == "failed", body
    assert "after 2 tries: schema violation at total_amount" in body["error"]["message"]
    assert len(fake.requests) == 2


def test_custom_domain_with_json_schema_and_prompt(vapi, fake):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    config = {"json_schema": schema, "prompt": "Count the shapes."}
    fake.reply({"n": 3})
    body = generate(vapi, "acme.shape-count", config=config)
    assert body["status"] == "completed", body
    assert body["response"] == {"n": 3}
    req = fake.requests[0]
    assert req["messages"][1]["content"][0]["text"] == "Count the shapes."
    answered = vapi.post("/schema", json={"domain": "acme.shape-count", "config": config})
    assert answered.json()["json_schema"] == req["response_format"]["json_schema"]["schema"]


def test_custom_domain_needs_a_valid_json_schema(vapi, fake):
    r = vapi.post("/image/generate", json={"images": [image_url()], "domain": "acme.x"})
    assert r.status_code == 400 and "config.json_schema" in r.json()["error"]["message"]
    bad = {"type": "objekt"}
    r = vapi.post(
        "/image/generate",
        json={"images": [image_url()], "domain": "acme.x", "config": {"json_schema": bad}},
    )
    assert r.status_code == 400, r.text
    assert "not a valid JSON Schema" in r.json()["error"]["message"]
    assert fake.requests == []


def test_429_then_ok_completes(vapi, fake):
    fake.reply_error(429, "Rate limit reached for requests", retry_after=0.1)
    fake.reply(INVOICE)
    body = generate(vapi, "document.invoice")
    assert body["status"] == "completed", body
    assert len(fake.requests) == 2


def test_endpoint_down_is_retried_by_the_queue_then_fails_clearly(vapi, fake):
    tries = VLM_ATTEMPTS * (JOB_RETRIES + 1)
    for _ in range(tries):
        fake.reply_error(503, "The server is overloaded")
    body = generate(vapi, "document.invoice")
    assert body["status"] == "failed", body
    message = body["error"]["message"]
    assert f"{fake.base_url}/chat/completions" in message and "503" in message
    assert fake.api_key not in message
    assert len(fake.requests) == tries


def test_the_model_is_named_at_start_and_its_key_never_logged(vlm_server, fake, vapi):
    fake.reply(INVOICE)
    generate(vapi, "document.invoice")
    log = vlm_server.log()
    assert f"model:       {fake.model} at {fake.base_url}" in log
    assert fake.api_key not in log


def test_a_video_goes_to_the_model_as_sampled_frames(vapi, fake, tmp_path):
    from tests.support.videos import make_video

    video = make_video(tmp_path / "clip.mp4", seconds=3).read_bytes()
    r = vapi.post("/files", files={"file": ("clip.mp4", video)})
    assert r.status_code == 201, r.text
    fake.reply({"description": "three colours"})
    schema = {"type": "object", "properties": {"description": {"type": "string"}}}
    r = vapi.post(
        "/video/generate",
        json={
            "file_id": r.json()["id"],
            "domain": "video.colours",
            "config": {
                "json_schema": schema,
                "video_segment_duration": 1.0,
                "video_frames_per_segment": 2,
            },
        },
    )
    assert r.status_code == 200, r.text
    body = wait_final(vapi, r.json()["id"])
    assert body["status"] == "completed", body
    assert body["response"]["description"] == "three colours"
    (req,) = fake.requests
    images = [p for m in req["messages"] if isinstance(m["content"], list) for p in m["content"]]
    images = [p for p in images if p["type"] == "image_url"]
    assert len(images) == 6  # 3 one-second segments x 2 frames
    assert body["usage"]["elements_processed"] == 6


def test_the_video_route_reaches_model_domains_and_refuses_audio_only_ones(vapi):
    r = vapi.post(
        "/video/generate",
        json={"url": "https://example.com/a.mp4", "domain": "document.markdown"},
    )
    assert r.status_code == 400  # markdown is routed to the offline engine: no video there
    assert "document.invoice" in r.json()["error"]["message"]


def test_a_schema_pattern_the_server_cannot_run_safely_is_a_400(vapi, fake):
    schema = {"type": "object", "properties": {"n": {"type": "string", "pattern": "(\\w)\\1"}}}
    for path, body in (
        ("/image/generate", {"images": [image_url()], "domain": "acme.x"}),
        ("/schema", {"domain": "acme.x"}),
    ):
        r = vapi.post(path, json={**body, "config": {"json_schema": schema}})
        assert r.status_code == 400, r.text
        message = r.json()["error"]["message"]
        assert "RE2" in message and "/properties/n" in message, message
    assert fake.requests == []
