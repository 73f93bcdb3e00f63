"""The model engine in-process, against the fake OpenAI server over real HTTP."""

from __future__ import annotations

import base64
import copy
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.support.fake_openai import FakeOpenAI
from vlmfiles.server.engines.base import (
    EngineError,
    EngineInput,
    InputRejected,
    JobTimeout,
    Limits,
    ModelUnavailable,
)
from vlmfiles.server.engines.vlm import ChatClient, VlmEngine
from vlmfiles.server.predictions.schemas import json_schema_for

INVOICE = {"invoice_id": "INV-7", "total_amount": 12.5, "currency": "EUR"}


def limits(seconds: float = 60, **kw: Any) -> Limits:
    base: dict[str, Any] = {"max_pages": 50, "max_pixels": 50_000_000}
    return Limits(**{**base, **kw, "deadline": time.monotonic() + seconds})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as f:
        yield f


@pytest.fixture
def model(fake: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake.reset()
    yield fake
    fake.reset()


OPEN: list[VlmEngine] = []


@pytest.fixture(autouse=True)
def _close_engines() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def engine_of(client: ChatClient) -> VlmEngine:
    OPEN.append(VlmEngine(client))
    return OPEN[-1]


def engine_for(fake: FakeOpenAI, **kw: Any) -> VlmEngine:
    opts: dict[str, Any] = {"max_concurrency": 2, "timeout": 5.0, "max_attempts": 3, **kw}
    return engine_of(ChatClient(fake.base_url, fake.model, fake.api_key, **opts))


@pytest.fixture
def png(tmp_path: Path) -> EngineInput:
    path = tmp_path / "photo.png"
    Image.new("RGB", (3000, 1500), "white").save(path)
    return EngineInput(path, "image/png", "photo.png")


@pytest.fixture
def pdf(tmp_path: Path) -> EngineInput:
    path = tmp_path / "three.pdf"
    pages = [Image.new("RGB", (600 + 100 * n, 800), "white") for n in range(3)]
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    return EngineInput(path, "application/pdf", "three.pdf")


def tokens(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def sent_images(request: dict[str, Any]) -> list[Image.Image]:
    parts = [p for p in request["messages"][1]["content"] if p["type"] == "image_url"]
    out = []
    for p in parts:
        data = p["image_url"]["url"].split(",", 1)[1]
        out.append(Image.open(io.BytesIO(base64.b64decode(data))))
    return out


def test_hub_domain_sends_the_hub_schema_and_answers(model: FakeOpenAI, png: EngineInput) -> None:
    model.reply(INVOICE)
    result = engine_for(model).run("document.invoice", [png], {}, limits())
    assert result.response["invoice_id"] == "INV-7"
    assert result.response["invoice_number"] == "INV-7"  # the spec's examples read it
    assert result.elements == 1 and result.element_type == "image"
    assert result.engine == f"vlm/{model.model}"
    (req,) = model.requests
    assert req["model"] == model.model
    fmt = req["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is False
    assert fmt["json_schema"]["schema"] == json_schema_for("document.invoice")
    # The hub catalog's own prompt for invoices.
    assert "invoice" in req["messages"][1]["content"][0]["text"].lower()
    assert result.tokens is not None and result.tokens["total_tokens"] > 0


@pytest.mark.parametrize(("detail", "side", "word"), [("lo", 768, "low"), ("hi", 2048, "high")])
def test_detail_sets_the_size_sent(
    model: FakeOpenAI, png: EngineInput, detail: str, side: int, word: str
) -> None:
    engine_for(model).run("document.invoice", [png], {"detail": detail}, limits())
    (img,) = sent_images(model.requests[0])
    assert max(img.size) == side and img.size[0] == 2 * img.size[1]
    part = model.requests[0]["messages"][1]["content"][1]
    assert part["image_url"]["detail"] == word


def test_pdf_pages_rendered_and_page_indices_chosen(model: FakeOpenAI, pdf: EngineInput) -> None:
    result = engine_for(model).run("document.invoice", [pdf], {}, limits())
    assert result.elements == 3 and result.element_type == "page"
    assert len(sent_images(model.requests[0])) == 3
    model.reset()
    engine_for(model).run("document.invoice", [pdf], {"page_indices": [2, 0]}, limits())
    widths = [img.size[0] / img.size[1] for img in sent_images(model.requests[0])]
    assert widths == pytest.approx([800 / 800, 600 / 800], abs=0.01)  # page 3, then page 1


def test_page_index_out_of_range_is_rejected(model: FakeOpenAI, pdf: EngineInput) -> None:
    with pytest.raises(InputRejected, match="out of range: three.pdf has 3 pages"):
        engine_for(model).run("document.invoice", [pdf], {"page_indices": [3]}, limits())
    assert model.requests == []


def test_malformed_then_valid_completes_in_two_calls(model: FakeOpenAI, png: EngineInput) -> None:
    model.reply_text('{"invoice_id": "INV-', usage=tokens(100, 5))
    model.reply(INVOICE, usage=tokens(300, 20))
    result = engine_for(model).run("document.invoice", [png], {}, limits())
    assert result.response["total_amount"] == 12.5
    assert len(model.requests) == 2
    retry = model.requests[1]["messages"]
    assert retry[-1]["role"] == "user" and "not JSON" in retry[-1]["content"]
    assert result.tokens == tokens(400, 25)  # summed over both calls


def test_always_invalid_fails_after_max_retries(model: FakeOpenAI, png: EngineInput) -> None:
    for _ in range(3):
        model.reply({"total_amount": "twelve"})
    with pytest.raises(EngineError, match=r"after 3 tries: schema violation at total_amount"):
        engine_for(model).run("document.invoice", [png], {"max_retries": 2}, limits())
    assert len(model.requests) == 3


def test_custom_schema_and_prompt(model: FakeOpenAI, png: EngineInput) -> None:
    schema = {
        "type": "object",
        "properties": {"color": {"type": "string", "enum": ["red", "white"]}},
        "required": ["color"],
    }
    model.reply({"color": "white"})
    config = {"json_schema": schema, "prompt": "What color is the page?"}
    result = engine_for(model).run("custom.page-color", [png], config, limits())
    assert result.response == {"color": "white"}
    req = model.requests[0]
    assert req["response_format"]["json_schema"]["schema"] == schema
    assert req["response_format"]["json_schema"]["name"] == "custom_page-color"
    assert req["messages"][1]["content"][0]["text"] == "What color is the page?"


def test_confidence_and_grounding_extend_the_schema(model: FakeOpenAI, png: EngineInput) -> None:
    # The hosted platform's shape: <field>_metadata beside the field.
    meta = {
        "confidence": 0.9,
        "bbox": {"xywh": [0.1, 0.1, 0.2, 0.05]},
        "bbox_content": "INV-7",
        "page": 1,
    }
    model.reply({**INVOICE, "invoice_id_metadata": meta, "total_amount_metadata": None})
    config = {"confidence": True, "grounding": True}
    result = engine_for(model).run("document.invoice", [png], config, limits())
    assert result.response["invoice_id_metadata"] == meta
    sent = model.requests[0]["response_format"]["json_schema"]["schema"]
    hub = json_schema_for("document.invoice")
    assert hub is not None and "invoice_id_metadata" not in hub["properties"]  # not shared
    assert set(sent["properties"]) == set(hub["properties"]) | {
        f"{name}_metadata" for name in hub["properties"]
    }
    entry = sent["$defs"]["VlmfilesFieldMetadata"]["properties"]
    assert set(entry) == {"confidence", "bbox", "bbox_content", "page"}
    address = sent["$defs"]["Address"]["properties"]  # nested models' fields too
    assert "street_metadata" in address and "street_metadata_metadata" not in address
    assert "invoice_id_metadata" in model.requests[0]["messages"][0]["content"].replace(
        "<field>", "invoice_id"
    )
    model.reset()
    model.reply({**INVOICE, "invoice_id_metadata": {"confidence": 7}})
    model.reply({**INVOICE})
    engine_for(model).run("document.invoice", [png], config, limits())
    assert "invoice_id_metadata/confidence" in model.requests[1]["messages"][-1]["content"]


def test_only_confidence_asks_for_no_boxes(model: FakeOpenAI, png: EngineInput) -> None:
    schema = {
        "type": "object",
        "properties": {
            "color": {"type": "string"},
            "marks": {"type": "array", "items": {"type": "object", "properties": {"x": {}}}},
        },
    }
    given = copy.deepcopy(schema)
    model.reply({"color": "white", "color_metadata": {"confidence": 0.5}})
    config = {"json_schema": schema, "confidence": True}
    result = engine_for(model).run("custom.page-color", [png], config, limits())
    assert result.response["color_metadata"] == {"confidence": 0.5}
    sent = model.requests[0]["response_format"]["json_schema"]["schema"]
    assert set(sent["$defs"]["VlmfilesFieldMetadata"]["properties"]) == {"confidence"}
    assert "x_metadata" in sent["properties"]["marks"]["items"]["properties"]  # inline objects
    assert "bbox" not in model.requests[0]["messages"][0]["content"]
    assert schema == given  # the request's own schema is left as it was


def test_429_honours_retry_after_then_answers(model: FakeOpenAI, png: EngineInput) -> None:
    model.reply_error(429, "Rate limit reached", retry_after=0.2)
    model.reply(INVOICE)
    result = engine_for(model).run("document.invoice", [png], {}, limits())
    assert result.response["invoice_id"] == "INV-7" and len(model.requests) == 2


def test_5xx_every_time_is_model_unavailable_naming_the_endpoint(
    model: FakeOpenAI, png: EngineInput
) -> None:
    for _ in range(3):
        model.reply_error(503, "overloaded")
    with pytest.raises(ModelUnavailable) as info:
        engine_for(model).run("document.invoice", [png], {}, limits())
    assert model.base_url in str(info.value) and "503 overloaded" in str(info.value)
    assert model.api_key not in str(info.value)
    assert len(model.requests) == 3


def test_endpoint_down_is_model_unavailable(png: EngineInput) -> None:
    from tests.support.server import free_port

    client = ChatClient(
        f"http://127.0.0.1:{free_port()}/v1", "m", "k", max_concurrency=1, timeout=2, max_attempts=2
    )
    with pytest.raises(ModelUnavailable, match="cannot connect"):
        engine_of(client).run("document.invoice", [png], {}, limits())


def test_a_hang_ends_at_the_request_timeout(model: FakeOpenAI, png: EngineInput) -> None:
    model.reply_hang(30)
    model.reply(INVOICE)
    result = engine_for(model, timeout=0.5).run("document.invoice", [png], {}, limits())
    assert result.response["invoice_id"] == "INV-7" and len(model.requests) == 2


def test_the_job_deadline_bounds_a_hang(model: FakeOpenAI, png: EngineInput) -> None:
    model.reply_hang(30)
    with pytest.raises(JobTimeout, match="time limit waiting for the model endpoint http"):
        engine_for(model, timeout=60).run("document.invoice", [png], {}, limits(seconds=1))


def test_a_deadline_cutting_the_retries_short_counts_the_tries_made(
    model: FakeOpenAI, png: EngineInput
) -> None:
    # The endpoint asks for 30 s; the job has 10 s left: no second try, whatever the machine.
    model.reply_error(429, "slow down", retry_after=30)
    with pytest.raises(ModelUnavailable, match=r"after 1 try: 429 slow down"):
        engine_for(model).run("document.invoice", [png], {}, limits(seconds=10))
    assert len(model.requests) == 1


@pytest.mark.parametrize(
    ("status", "fragment"), [(401, "Incorrect API key"), (404, "does not exist")]
)
def test_4xx_from_the_endpoint_fails_at_once(
    model: FakeOpenAI, png: EngineInput, status: int, fragment: str
) -> None:
    key, name = ("wrong", model.model) if status == 401 else (model.api_key, "no-such-model")
    client = ChatClient(model.base_url, name, key, max_concurrency=1, timeout=5, max_attempts=3)
    with pytest.raises(EngineError, match=f"refused the request \\({status}\\): .*{fragment}"):
        engine_of(client).run("document.invoice", [png], {}, limits())
    assert len(model.requests) == 1


@pytest.mark.parametrize(
    ("media", "fragment"),
    [
        ("video/mp4", "not a video this server can read"),
        ("audio/mpeg", "cannot take audio"),
        ("text/plain", "takes a PDF"),
    ],
)
def test_inputs_a_vision_model_cannot_take_or_read(
    model: FakeOpenAI, tmp_path: Path, media: str, fragment: str
) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(InputRejected, match=fragment):
        engine_for(model).run("document.invoice", [EngineInput(path, media, "x")], {}, limits())
    assert model.requests == []


def test_no_schema_for_unknown_domain_without_json_schema(
    model: FakeOpenAI, png: EngineInput
) -> None:
    with pytest.raises(InputRejected, match="config.json_schema"):
        engine_for(model).run("custom.thing", [png], {}, limits())


@pytest.mark.timeout(60)  # on Python's backtracking re, this answer takes hours to check
def test_a_schema_pattern_runs_in_linear_time_on_any_answer(
    model: FakeOpenAI, png: EngineInput
) -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}
    model.reply({"code": "a" * 60 + "!"})
    model.reply({"code": "aaaa"})
    result = engine_for(model).run("custom.code", [png], {"json_schema": schema}, limits())
    assert result.response == {"code": "aaaa"}
    retry = model.requests[1]["messages"][-1]["content"]
    assert "schema violation at code" in retry and "does not match" in retry
