"""The official ``vlmrun`` SDK, unchanged, against a server whose model engine answers from
the fake OpenAI server: ``image.generate(..., domain="document.invoice",
config=GenerationConfig(), autocast=True)`` gives the SDK's typed model, built from the
schema ``POST /v1/schema`` returned, which is the one the engine sent to the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.compat.sdk_env import LazySdkVenv
from tests.compat.test_official_sdk import Sdk, call
from tests.support import vlm

pytestmark = pytest.mark.timeout(600)
fake = vlm.fake  # the fixtures of tests/support/vlm.py
vlm_server = vlm.vlm_server


def test_image_generate_with_autocast_gives_a_typed_invoice(
    sdk_venv: LazySdkVenv, vlm_server, fake, tmp_path: Path
) -> None:
    fake.reset()
    png = tmp_path / "invoice.png"
    Image.new("RGB", (640, 480), "white").save(png)
    fake.reply({"invoice_id": "INV-SDK-1", "total_amount": 41.0, "currency": "EUR"})
    report = Sdk(sdk_venv, vlm_server, tmp_path).run(
        call(
            "invoice",
            "image.generate",
            domain="document.invoice",
            images=[{"__path__": str(png)}],
            config={"__config__": {}},
            autocast=True,
        ),
        {"name": "number", "op": "attr", "of": "invoice", "path": "response.invoice_number"},
        {"name": "total", "op": "attr", "of": "invoice", "path": "response.total_amount"},
        {"name": "typed", "op": "attr", "of": "invoice", "path": "response"},
    )
    assert report.ok("invoice")["status"] == "completed"
    assert report.ok("number") == "INV-SDK-1"
    assert report.ok("total") == 41.0
    assert report["typed"]["type"] != "dict"  # a pydantic model, not the raw answer
    (sent,) = fake.requests
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["invoice_number"]


def test_grounding_comes_back_in_the_shape_the_sdk_draws_boxes_from(
    sdk_venv: LazySdkVenv, vlm_server, fake, tmp_path: Path
) -> None:
    fake.reset()
    png = tmp_path / "invoice.png"
    Image.new("RGB", (640, 480), "white").save(png)
    box = {"xywh": [0.1, 0.2, 0.3, 0.05]}
    meta = {"confidence": 0.75, "bbox": box, "bbox_content": "INV-9", "page": 1}
    street = {"confidence": 0.5, "bbox": {"xywh": [0.5, 0.5, 0.2, 0.1]}, "page": 1}
    address = {"street": "1 Main St", "street_metadata": street}
    fake.reply(
        {
            "invoice_id": "INV-9",
            "total_amount": None,
            "invoice_id_metadata": meta,
            "customer_billing_address": address,
        }
    )
    report = Sdk(sdk_venv, vlm_server, tmp_path).run(
        call(
            "pred",
            "image.generate",
            domain="document.invoice",
            images=[{"__path__": str(png)}],
            config={"__config__": {"confidence": True, "grounding": True}},
        ),
        {
            "name": "boxes",
            "op": "function",
            "function": "vlmrun.common.viz.get_boxes_from_response",
            "args": [{"__ref__": ["pred"]}],
        },
    )
    assert report.ok("pred")["status"] == "completed"
    found, nested = report.ok("boxes")
    assert found["field"] == "invoice_id" and found["content"] == "INV-9"
    assert found["confidence"] == 0.75
    assert found["bbox"] == pytest.approx([0.1, 0.2, 0.4, 0.25])  # the SDK's xyxy
    assert nested["field"] == "customer_billing_address.street"
    assert nested["bbox"] == pytest.approx([0.5, 0.5, 0.7, 0.6])
