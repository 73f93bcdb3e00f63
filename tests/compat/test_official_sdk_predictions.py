"""The official ``vlmrun`` SDK, unchanged, running predictions against a real server with
the offline engine: image.generate (URLs and PIL images), document.generate (file_id, URL,
local path), batch then get/wait, list, schemas, domains, hub, models, and ``autocast=True``
giving a model with ``.invoice_number`` and ``.total_amount`` on a generated invoice.
See ``shared/spec/predictions-wire.md`` for what each call sends and expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.sdk_env import LazySdkVenv
from tests.compat.test_official_sdk import Sdk, call
from tests.support.invoices import invoice_sample

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def sdk(sdk_venv: LazySdkVenv, server, tmp_path: Path) -> Sdk:
    return Sdk(sdk_venv, server, tmp_path)


@pytest.fixture
def invoice(tmp_path: Path):
    sample = invoice_sample(5)
    return sample, sample.pdf(tmp_path / "invoice.pdf"), sample.image(tmp_path / "invoice.png")


def ref(step: str, *attrs: str) -> dict:
    return {"__ref__": [step, *attrs]}


def test_document_generate_by_path_file_id_and_url_with_autocast(sdk: Sdk, invoice) -> None:
    sample, pdf, _ = invoice
    want_number, want_total = sample.expected["invoice_id"], sample.expected["total_amount"]
    report = sdk.run(
        call("by_path", "document.generate", file=pdf, domain="document.invoice", autocast=True),
        {"name": "number", "op": "attr", "of": "by_path", "path": "response.invoice_number"},
        {"name": "total", "op": "attr", "of": "by_path", "path": "response.total_amount"},
        call("upload", "files.upload", pdf),
        call("by_id", "document.generate", file=ref("upload", "id"), domain="document.invoice"),
        call(
            "by_url",
            "document.generate",
            url=ref("upload", "public_url"),
            domain="document.invoice",
        ),
    )
    by_path = report.ok("by_path")
    assert by_path["status"] == "completed"
    assert report.ok("number") == want_number and report["number"]["type"] == "str"
    assert report.ok("total") == want_total
    assert "POST schema" in [f"{m} {u}" for m, u, _ in report.calls("by_path")]
    for name in ("by_id", "by_url"):
        result = report.ok(name)
        assert result["status"] == "completed", result
        assert result["response"]["invoice_number"] == want_number
        assert result["response"]["total_amount"] == want_total


def test_image_generate_from_pil_images_and_urls(sdk: Sdk, invoice) -> None:
    _, _, png = invoice
    report = sdk.run(
        call(
            "pil", "image.generate", domain="image.classification", images=[{"__pil__": str(png)}]
        ),
        call("upload", "files.upload", png),
        call(
            "urls",
            "image.generate",
            domain="image.classification",
            urls=[ref("upload", "public_url")],
        ),
        call(
            "invoice",
            "image.generate",
            domain="document.invoice",
            images=[{"__path__": str(png)}],
            config={"__config__": {}},
            autocast=True,
        ),
        {"name": "number", "op": "attr", "of": "invoice", "path": "response.invoice_number"},
    )
    for name in ("pil", "urls"):
        result = report.ok(name)
        assert result["status"] == "completed", result
        assert result["response"]["label"] == "document"
    assert report.ok("invoice")["status"] == "completed"
    assert report.ok("number") == invoice[0].expected["invoice_id"]


def test_batch_then_get_wait_and_list(sdk: Sdk, invoice) -> None:
    sample, pdf, _ = invoice
    report = sdk.run(
        call("upload", "files.upload", pdf),
        call(
            "batch",
            "document.generate",
            file=ref("upload", "id"),
            domain="document.markdown",
            batch=True,
        ),
        call("wait", "predictions.wait", ref("batch", "id"), timeout=120, sleep=1),
        call("get", "predictions.get", ref("batch", "id")),
        {"name": "doc", "op": "attr", "of": "get", "path": "response"},
        call("list", "predictions.list"),
    )
    assert report.ok("batch")["status"] in ("enqueued", "pending", "running", "completed")
    waited = report.ok("wait")
    assert waited["status"] == "completed"
    got = report.ok("get")
    assert report["doc"]["type"] == "MarkdownDocument"  # the SDK's own markdown cast
    assert sample.expected["invoice_id"] in got["response"]["pages"][0]["content"]
    listed = report.ok("list")
    assert [p["id"] for p in listed] == [waited["id"]]


def test_schemas_domains_hub_and_models(sdk: Sdk) -> None:
    report = sdk.run(
        call("schema", "get_schema", "document.invoice"),
        call("domains", "list_domains"),
        call("info", "hub.info"),
        call("hub_domains", "hub.list_domains"),
        call("hub_schema", "hub.get_schema", "document.receipt"),
        call("models", "models.list"),
        call(
            "unknown", "document.generate", url="https://example.com/x.pdf", domain="document.nope"
        ),
    )
    schema = report.ok("schema")
    assert "invoice_number" in schema["json_schema"]["properties"]
    domains = [d["domain"] for d in report.ok("domains")]
    assert "document.invoice" in domains and "image.classification" in domains
    assert report.ok("info")["version"] == "0.1.35"
    assert len(report.ok("hub_domains")) >= 31
    assert report.ok("hub_schema")["domain"] == "document.receipt"
    assert {"model": "vlm-1", "domain": "document.invoice"} in [
        {"model": m["model"], "domain": m["domain"]} for m in report.ok("models")
    ]
    err = report.error("unknown")
    assert err["http_status"] == 400 and "document.invoice" in err["message"]


def test_feedback_submit_and_get(sdk: Sdk, invoice) -> None:
    _, _, png = invoice
    report = sdk.run(
        call("upload", "files.upload", png),
        call(
            "pred",
            "document.generate",
            file=ref("upload", "id"),
            domain="document.invoice",
        ),
        call(
            "submit",
            "feedback.submit",
            ref("pred", "id"),
            response={"invoice_id": "FIXED-1"},
            notes="the id was misread",
        ),
        call("notes_only", "feedback.submit", ref("pred", "id"), notes="checked by hand"),
        call("get", "feedback.get", ref("pred", "id")),
        call("page", "feedback.get", ref("pred", "id"), offset=1, limit=1),
        call("unknown", "feedback.submit", "pred_nope", notes="x"),
    )
    pred_id = report.ok("pred")["id"]
    submitted = report.ok("submit")
    assert submitted["request_id"] == pred_id and submitted["id"].startswith("fb_")
    got = report.ok("get")
    assert got["request_id"] == pred_id
    assert [i["notes"] for i in got["items"]] == ["checked by hand", "the id was misread"]
    assert got["items"][1]["response"] == {"invoice_id": "FIXED-1"}
    assert [i["notes"] for i in report.ok("page")["items"]] == ["the id was misread"]
    assert report.error("unknown")["http_status"] == 404
