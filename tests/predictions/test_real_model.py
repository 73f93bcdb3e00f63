"""Opt-in: the Files API spec's examples (shared/spec/files-api.txt) against a REAL model.

Deselected by default (pyproject addopts ``-m 'not real_model'``). Run with::

    VLMFILES_TEST_VLM_BASE_URL=http://127.0.0.1:11434/v1 VLMFILES_TEST_VLM_MODEL=qwen2.5vl:7b \\
    VLMFILES_TEST_VLM_API_KEY=... VLMFILES_TEST_STACKS=embedded \\
    .venv/bin/pytest -m real_model tests/predictions/test_real_model.py
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.predictions.conftest import pred_env, wait_final
from tests.support.invoices import invoice_sample
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.real_model, pytest.mark.timeout(900)]


def _model_env() -> dict[str, str]:
    names = ("VLMFILES_TEST_VLM_BASE_URL", "VLMFILES_TEST_VLM_MODEL")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        pytest.fail(f"-m real_model needs {', '.join(missing)} (and VLMFILES_TEST_VLM_API_KEY)")
    env = {
        "VLMFILES_VLM_BASE_URL": os.environ["VLMFILES_TEST_VLM_BASE_URL"],
        "VLMFILES_VLM_MODEL": os.environ["VLMFILES_TEST_VLM_MODEL"],
        "VLMFILES_JOB_TIME_LIMIT_SECONDS": "600",
        "VLMFILES_SYNC_WAIT_SECONDS": "100",
    }
    if os.environ.get("VLMFILES_TEST_VLM_API_KEY"):
        env["VLMFILES_VLM_API_KEY"] = os.environ["VLMFILES_TEST_VLM_API_KEY"]
    return env


@pytest.fixture(scope="module")
def real(tmp_path_factory: Any) -> Iterator[httpx.Client]:
    env = {**pred_env(), **_model_env()}
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("real-model") / "data", env=env)
    srv.start()
    try:
        with srv.client(srv.new_key(f"t-{uuid.uuid4().hex[:8]}"), timeout=300) as c:
            yield c
    finally:
        srv.stop()


def upload(api: httpx.Client, path: Path, purpose: str = "assistants") -> dict[str, Any]:
    with path.open("rb") as f:
        r = api.post("/files", files={"file": (path.name, f)}, data={"purpose": purpose})
    assert r.status_code == 201, r.text
    return r.json()


def test_upload_and_process_an_invoice_image(real: httpx.Client, tmp_path: Path) -> None:
    sample = invoice_sample(3)
    f = upload(real, sample.image(tmp_path / "invoice.jpg"))
    r = real.post("/image/generate", json={"urls": [f["public_url"]], "domain": "document.invoice"})
    body = wait_final(real, r.json()["id"], timeout=600)
    assert body["status"] == "completed", body
    assert body["response"]["invoice_number"] == sample.expected["invoice_id"]
    assert body["response"]["total_amount"] == pytest.approx(sample.expected["total_amount"])
    assert body["usage"]["total_tokens"] > 0


def test_batch_document_invoice(real: httpx.Client, tmp_path: Path) -> None:
    sample = invoice_sample(4)
    f = upload(real, sample.pdf(tmp_path / "invoice.pdf"), "batch")
    r = real.post(
        "/document/generate",
        json={"url": f["public_url"], "domain": "document.invoice", "batch": True},
    )
    body = wait_final(real, r.json()["id"], timeout=600)
    assert body["status"] == "completed", body
    assert body["response"]["total_amount"] == pytest.approx(sample.expected["total_amount"])


def test_image_classification(real: httpx.Client, tmp_path: Path) -> None:
    sample = invoice_sample(5)
    f = upload(real, sample.image(tmp_path / "temp_image.jpg"))
    r = real.post(
        "/image/generate", json={"urls": [f["public_url"]], "domain": "image.classification"}
    )
    body = wait_final(real, r.json()["id"], timeout=600)
    assert body["status"] == "completed", body
    assert isinstance(body["response"]["label"], str) and body["response"]["label"]
    real.delete(f"/files/{f['id']}").raise_for_status()
