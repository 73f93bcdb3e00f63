"""``client.image`` / ``client.document`` / ``client.predictions`` against an in-process fake
of the wire (``fake_predictions.py``): what is sent, what fails before any request, how
answers read, paging and waiting. Each test runs with ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import vlmfiles
from vlmfiles import PredictionFailedError, PredictionTimeoutError, ResponseData
from vlmfiles.resources import _prediction_plans

from .conftest import aw
from .fake_predictions import FakeServer, data_url_bytes, prediction

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(params=["sync", "async"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def fake() -> FakeServer:
    return FakeServer()


@pytest.fixture
async def client(fake, kind):
    c = fake.client(kind)
    yield c
    await aw(c.close())


async def test_image_paths_are_sent_as_data_urls_of_their_own_bytes(client, fake, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    a.write_bytes(PNG)
    b.write_bytes(b"\xff\xd8\xff\xe0" + b"\x01" * 32)
    await aw(client.image.generate(images=[a, str(b)], domain="document.invoice"))
    (body,) = fake.bodies("image/generate")
    assert {k: v for k, v in body.items() if k != "images"} == {
        "model": "vlm-1",
        "domain": "document.invoice",
        "batch": False,
    }
    assert [data_url_bytes(u) for u in body["images"]] == [
        ("image/png", PNG),
        ("image/jpeg", b.read_bytes()),
    ]


async def test_image_urls_config_metadata_and_callback_are_sent(client, fake):
    url = "http://127.0.0.1:1/v1/files/file_1/content?sig=x"
    await aw(
        client.image.generate(
            urls=[url],
            domain="image.classification",
            batch=True,
            config={"detail": "hi"},
            metadata={"environment": "dev"},
            callback_url="https://cb.test/x",
        )
    )
    assert fake.bodies("image/generate") == [
        {
            "model": "vlm-1",
            "images": [url],
            "domain": "image.classification",
            "batch": True,
            "config": {"detail": "hi"},
            "metadata": {"environment": "dev"},
            "callback_url": "https://cb.test/x",
        }
    ]


async def test_a_pil_image_is_sent_as_png(client, fake):
    from PIL import Image

    image = Image.new("RGB", (3, 2), (255, 0, 0))
    await aw(client.image.generate(images=[image], domain="image.classification"))
    kind, data = data_url_bytes(fake.bodies("image/generate")[0]["images"][0])
    assert kind == "image/png"
    back = Image.open(io.BytesIO(data))
    assert back.size == (3, 2) and back.getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"urls": ["http://x.test/a.png"]}, TypeError, "domain"),
        ({"urls": ["http://x.test/a.png"], "domain": ""}, ValueError, "domain is required"),
        (
            {"urls": ["http://x.test/a"], "images": ["a.png"], "domain": "d"},
            ValueError,
            "not both",
        ),
        ({"domain": "d"}, ValueError, "Pass `images`"),
        ({"urls": [], "domain": "d"}, ValueError, "`urls` is empty"),
        ({"images": [], "domain": "d"}, ValueError, "`images` is empty"),
        ({"urls": ["ftp://x/a.png"], "domain": "d"}, ValueError, "http:// or https://"),
        ({"urls": ["data:image/png;base64,AA"], "domain": "d"}, ValueError, "images=[path]"),
        ({"images": [b"bytes"], "domain": "d"}, TypeError, "path or a PIL image"),
        ({"images": ["missing.png"], "domain": "d"}, FileNotFoundError, "missing.png"),
    ],
)
async def test_image_generate_fails_early_with_a_sentence(client, fake, kwargs, error, words):
    with pytest.raises(error, match=None) as info:
        await aw(client.image.generate(**kwargs))
    assert words in str(info.value)
    assert fake.requests == []


async def test_a_file_that_is_not_an_image_is_refused_before_sending(client, fake, tmp_path):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(ValueError, match="document.generate"):
        await aw(client.image.generate(images=[pdf], domain="document.invoice"))
    assert fake.requests == []


async def test_document_from_a_local_path_is_uploaded_then_referenced(client, fake, tmp_path):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"x" * 100)
    await aw(client.document.generate(str(pdf), domain="document.invoice", batch=True))
    paths = [(r.method, r.url.path) for r in fake.requests]
    assert ("POST", "/v1/files") in paths
    assert paths[-1] == ("POST", "/v1/document/generate")
    assert fake.bodies("document/generate") == [
        {"model": "vlm-1", "domain": "document.invoice", "batch": True, "file_id": "file_0123"}
    ]


@pytest.mark.parametrize(
    "kwargs, sent",
    [
        ({"urls": ["http://h.test/a.pdf"]}, {"url": "http://h.test/a.pdf"}),
        ({"url": "http://h.test/a.pdf"}, {"url": "http://h.test/a.pdf"}),
        ({"file_id": "file_abc"}, {"file_id": "file_abc"}),
        ({"file": "file_abc"}, {"file_id": "file_abc"}),  # no extension: an id (official rule)
    ],
)
async def test_document_by_url_or_id(client, fake, kwargs, sent):
    await aw(client.document.generate(**kwargs, domain="document.markdown"))
    assert fake.bodies("document/generate") == [
        {"model": "vlm-1", "domain": "document.markdown", "batch": False, **sent}
    ]
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"urls": ["http://a.test/1", "http://a.test/2"]}, ValueError, "once per URL"),
        ({}, ValueError, "got none"),
        ({"url": "http://a.test/1", "file_id": "file_1"}, ValueError, "got url, file_id"),
        ({"urls": ["http://a.test/1"], "url": "http://a.test/2"}, ValueError, "not both"),
        ({"file": "nope/missing.pdf"}, FileNotFoundError, "missing.pdf"),
        ({"file_id": ""}, ValueError, "non-empty"),
    ],
)
async def test_document_generate_fails_early(client, fake, kwargs, error, words):
    with pytest.raises(error) as info:
        await aw(client.document.generate(**kwargs, domain="document.invoice"))
    assert words in str(info.value)
    assert [r for r in fake.requests if "generate" in r.url.path] == []


async def test_response_reads_by_attribute_and_by_key_nested_too(client, fake):
    fake.predictions.append(
        prediction(
            "pred_1",
            response={
                "invoice_number": "INV-7",
                "total_amount": 99.5,
                "due_date": None,
                "issuer": {"name": "ACME", "address": {"city": "Paris"}},
                "items": [{"description": "bolts", "total_price": 99.5}],
            },
            engine="offline/tesseract",
            domain="document.invoice",
        )
    )
    p = await aw(client.predictions.get("pred_1"))
    r = p.response
    assert isinstance(r, ResponseData) and isinstance(r, dict)
    assert (r.invoice_number, r["total_amount"]) == ("INV-7", 99.5)
    assert r.issuer.address.city == r["issuer"]["address"]["city"] == "Paris"
    assert r["items"][0].description == "bolts"
    assert r.due_date is None  # a field not found: present, None
    with pytest.raises(AttributeError, match="no key 'invoice_numbr'.*invoice_number"):
        r.invoice_numbr  # noqa: B018
    assert getattr(r, "invoice_numbr", None) is None
    assert callable(r.items)  # dict methods win, so json and copy work: data by key
    assert json.loads(json.dumps(r)) == r.to_dict()
    assert (p.engine, p.domain, p.status, p.created_at.year) == (
        "offline/tesseract",
        "document.invoice",
        "completed",
        2026,
    )


async def test_unknown_fields_are_kept_and_an_error_object_reads_as_its_message(client, fake):
    fake.predictions.append(
        prediction("pred_2", "failed", error={"message": "PDF is encrypted"}, shard=3)
    )
    p = await aw(client.predictions.get("pred_2"))
    assert p.error == p.reason == "PDF is encrypted"
    assert p.model_extra == {"shard": 3}


async def test_a_non_object_answer_is_a_clear_error(client, fake):
    fake.on_generate = lambda body: []  # type: ignore[assignment,return-value]
    with pytest.raises(vlmfiles.VlmFilesError, match="answered list, not a prediction"):
        await aw(client.document.generate(file_id="file_1", domain="d"))


async def collect(listing) -> list:
    if isinstance(listing, vlmfiles.resources.predictions.AsyncPredictionList):
        return [p async for p in listing]
    return list(listing)


async def test_list_walks_every_page_by_skip_and_limit(client, fake):
    fake.predictions = [prediction(f"pred_{i:03}") for i in range(250)]
    got = await collect(client.predictions.list())
    assert [p.id for p in got] == [f"pred_{i:03}" for i in range(250)]
    pages = [
        (r.url.params["skip"], r.url.params["limit"])
        for r in fake.requests
        if r.url.path == "/v1/predictions"
    ]
    assert pages == [("0", "100"), ("100", "100"), ("200", "100"), ("250", "100")]


async def test_list_reads_on_past_a_short_page(client, fake):
    """A server whose largest page is smaller than asked still gets every prediction."""
    fake.predictions = [prediction(f"pred_{i:03}") for i in range(130)]
    fake.max_page = 40
    assert len(await collect(client.predictions.list())) == 130


async def test_list_limit_and_skip(client, fake):
    fake.predictions = [prediction(f"pred_{i:03}") for i in range(250)]
    got = await collect(client.predictions.list(skip=5, limit=120))
    assert [p.id for p in got] == [f"pred_{i:03}" for i in range(5, 125)]
    assert len(await aw(client.predictions.list(limit=3))) == 3


async def test_a_prediction_made_while_paging_repeats_nothing(client, fake):
    fake.predictions = [prediction(f"pred_{i:03}") for i in range(150)]
    inserted = []

    def newer_arrives() -> None:  # newest first: everything shifts by one
        if not inserted:
            inserted.append(1)
            fake.predictions.insert(0, prediction("pred_new"))

    fake.between_pages = newer_arrives
    ids = [p.id for p in await collect(client.predictions.list())]
    assert len(ids) == len(set(ids)) == 150


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"skip": -1}])
def test_list_refuses_bad_arguments_at_the_call(fake, kind, kwargs):
    with pytest.raises(ValueError):
        fake.client(kind).predictions.list(**kwargs)


@pytest.fixture
def clock(monkeypatch, client):
    """A fake monotonic clock that the client's sleeps advance; returns the sleeps."""
    now = [1000.0]
    sleeps: list[float] = []
    fake_time = types.SimpleNamespace(monotonic=lambda: now[0])
    monkeypatch.setattr(_prediction_plans, "time", fake_time)

    def advance(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    async def aadvance(seconds: float) -> None:
        advance(seconds)

    sleep = aadvance if isinstance(client, vlmfiles.AsyncClient) else advance
    monkeypatch.setattr(client, "_sleep", sleep)
    return sleeps


async def test_wait_polls_until_completed(client, fake, clock):
    fake.script["pred_w"] = [
        prediction("pred_w", "pending"),
        prediction("pred_w", "running"),
        prediction("pred_w", "completed", response={"total_amount": 5}),
    ]
    p = await aw(client.predictions.wait("pred_w", timeout=60, sleep=2))
    assert p.status == "completed" and p.response.total_amount == 5
    assert clock == [2, 2]


async def test_wait_ends_on_failed_with_the_servers_reason(client, fake, clock):
    fake.script["pred_f"] = [
        prediction("pred_f", "running"),
        prediction("pred_f", "failed", error="PDF has 10000 pages; the limit is 500"),
    ]
    with pytest.raises(PredictionFailedError) as info:
        await aw(client.predictions.wait("pred_f", timeout=600, sleep=5))
    assert info.value.reason == "PDF has 10000 pages; the limit is 500"
    assert "pred_f failed: PDF has 10000 pages" in str(info.value)
    assert info.value.prediction.status == "failed"
    assert clock == [5]  # ended at once, not at the timeout


async def test_wait_times_out_with_the_last_status(client, fake, clock):
    fake.script["pred_t"] = [prediction("pred_t", "running")]
    with pytest.raises(PredictionTimeoutError) as info:
        await aw(client.predictions.wait("pred_t", timeout=12, sleep=5))
    assert isinstance(info.value, TimeoutError)  # as the official SDK's builtin
    assert str(info.value) == (
        "Prediction pred_t did not complete within 12 seconds. Last status: running"
    )
    assert clock == [5, 5, 2]  # the last sleep ends at the deadline


async def test_wait_accepts_a_prediction_and_404_is_not_found(client, fake, clock):
    fake.predictions.append(prediction("pred_d", response={"a": 1}))
    p = await aw(client.predictions.get("pred_d"))
    assert (await aw(client.predictions.wait(p))).id == "pred_d"
    with pytest.raises(vlmfiles.NotFoundError):
        await aw(client.predictions.wait("pred_missing"))
    with pytest.raises(ValueError, match="non-empty"):
        await aw(client.predictions.get(""))


def test_the_sdk_never_imports_pillow(tmp_path: Path):
    png = tmp_path / "a.png"
    png.write_bytes(PNG)
    code = (
        "import sys, httpx, vlmfiles\n"
        "t = httpx.MockTransport(lambda r: httpx.Response(200, json={'id': 'p', "
        "'status': 'completed', 'created_at': '2026-01-01T00:00:00Z', 'usage': {}}))\n"
        "c = vlmfiles.Client(api_key='k', http_client=httpx.Client(transport=t))\n"
        f"c.image.generate(images=[{str(png)!r}], domain='d')\n"
        "print('PIL' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "False"


async def test_a_file_object_is_uploaded_and_a_pydantic_config_is_dumped(client, fake):
    from pydantic import BaseModel

    class GenerationConfig(BaseModel):  # the official SDK's shape: None fields left out
        detail: str = "auto"
        prompt: str | None = None

    await aw(
        client.document.generate(
            io.BytesIO(b"%PDF-1.4\n" + b"y" * 50),
            domain="document.markdown",
            config=GenerationConfig(),
        )
    )
    body = fake.bodies("document/generate")[0]
    assert body["file_id"] == "file_0123" and body["config"] == {"detail": "auto"}
    with pytest.raises(TypeError, match="`metadata` must be a dict"):
        await aw(client.document.generate(file_id="f", domain="d", metadata=3))
