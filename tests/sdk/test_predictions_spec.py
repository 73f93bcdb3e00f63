"""The Files API spec's three prediction patterns ("Upload and Process", "Batch Processing
Multiple Files", "Temporary File Management") run as written against a real server, on
invoices drawn with known values (``invoice_image.py``); then the other prediction calls.

Every test runs with ``Client`` and with ``AsyncClient`` (its async form: ``await`` each
call), on each stack (see ``conftest.py``)."""

from __future__ import annotations

import glob

import pytest

import vlmfiles
from vlmfiles import PredictionFailedError
from vlmfiles.exceptions import NotFoundError, ValidationError
from vlmfiles.resources import _prediction_plans

from .conftest import aw
from .invoice_image import Invoice, draw, save

WAIT = {"timeout": 180, "sleep": 0.2}


async def test_upload_and_process(client, workdir, capsys):
    save(Invoice("INV-2024-0042", 1234.56), "invoice.jpg")

    # 1. Upload the file
    file = await aw(client.files.upload("invoice.jpg"))

    # 2. Process with image API
    prediction = await aw(client.image.generate(urls=[file.url], domain="document.invoice"))

    # 3. Work with the results
    if prediction.status == "completed":
        print(f"Invoice #: {prediction.response.invoice_number}")
        print(f"Amount: ${prediction.response.total_amount}")

    assert capsys.readouterr().out == "Invoice #: INV-2024-0042\nAmount: $1234.56\n"
    assert prediction.response["invoice_number"] == "INV-2024-0042"  # by key too
    assert prediction.domain == "document.invoice" and prediction.engine
    assert prediction.completed_at >= prediction.started_at >= prediction.created_at
    assert prediction.usage.elements_processed == 1 and prediction.error is None


async def test_batch_processing_multiple_files(client, workdir, capsys):
    invoices = {f"INV-77{i}": 100.0 + 11.25 * i for i in range(3)}
    for number, total in invoices.items():
        save(Invoice(number, total), f"invoices/{number}.pdf")

    # Get all PDFs in a directory
    pdf_files = glob.glob("./invoices/*.pdf")
    results = []

    # Process each file
    for path in pdf_files:
        # 1. Upload file
        file = await aw(client.files.upload(path, purpose="batch"))

        # 2. Process document
        prediction = await aw(
            client.document.generate(
                urls=[file.url],
                domain="document.invoice",
                batch=True,  # Process asynchronously
            )
        )

        results.append((file.id, prediction.id))
        assert prediction.status in ("enqueued", "pending", "running", "completed")

    # "Later": here, once each is done.
    for _, prediction_id in results:
        await aw(client.predictions.wait(prediction_id, **WAIT))

    # Later: check results
    for file_id, prediction_id in results:
        prediction = await aw(client.predictions.get(prediction_id))
        if prediction.status == "completed":
            print(f"File {file_id}: ${prediction.response.total_amount}")

    file_ids = {}
    for path in pdf_files:
        f = await aw(client.files.get_cached_file(path))
        file_ids[f.id] = invoices[f.filename.removesuffix(".pdf")]
    printed = capsys.readouterr().out.splitlines()
    assert sorted(printed) == sorted(f"File {fid}: ${total}" for fid, total in file_ids.items())


async def test_temporary_file_management(client, workdir, capsys):
    save(Invoice("INV-9", 9.99), "temp_image.jpg")

    # Upload a temporary file
    temp_file = await aw(client.files.upload("temp_image.jpg"))

    try:
        # Use the file
        result = await aw(
            client.image.generate(urls=[temp_file.url], domain="image.classification")
        )

        # Process the result
        print(f"Classification: {result.response}")

    finally:
        # Clean up when done
        await aw(client.files.delete(temp_file.id))

    out = capsys.readouterr().out
    assert out.startswith("Classification: {") and "document" in out, out
    with pytest.raises(NotFoundError):
        await aw(client.files.get(temp_file.id))


async def test_pil_and_path_images_are_read_inline(client, workdir):
    path = save(Invoice("INV-PATH-1", 42.5), "scan.png")
    for images in ([draw(Invoice("INV-PIL-1", 17.25))], [path]):
        p = await aw(client.image.generate(images=images, domain="document.invoice"))
        assert p.status == "completed", p
    assert (p.response.invoice_number, p.response.total_amount) == ("INV-PATH-1", 42.5)


async def test_document_from_a_local_path_and_by_file_id(client, workdir):
    save(Invoice("INV-LOCAL-5", 310.0), "local.pdf")
    p = await aw(client.document.generate("local.pdf", domain="document.invoice"))
    assert (p.status, p.response.invoice_number, p.response.total_amount) == (
        "completed",
        "INV-LOCAL-5",
        310.0,
    )
    file = await aw(client.files.get_cached_file("local.pdf"))
    p = await aw(client.document.generate(file_id=file.id, domain="document.invoice", batch=True))
    p = await aw(client.predictions.wait(p, **WAIT))
    assert p.response.total_amount == 310.0


async def test_wait_ends_on_failed_with_the_servers_reason(client, workdir):
    (workdir / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage")
    p = await aw(client.document.generate("broken.pdf", domain="document.markdown", batch=True))
    with pytest.raises(PredictionFailedError) as info:
        await aw(client.predictions.wait(p.id, **WAIT))
    assert info.value.reason and info.value.reason != "the server gave no reason"
    assert info.value.prediction.status == "failed"
    assert info.value.reason in str(info.value)


async def test_an_unknown_domain_is_refused_saying_which_exist(client):
    with pytest.raises(ValidationError) as info:
        await aw(client.image.generate(urls=["http://x.test/a.png"], domain="image.nope"))
    assert "document.invoice" in info.value.message


async def test_list_pages_through_every_prediction(client, workdir, monkeypatch):
    monkeypatch.setattr(_prediction_plans, "LIST_PAGE", 2)  # 5 predictions: three pages
    file = await aw(client.files.upload(save(Invoice("INV-L", 1.0), "l.png")))
    made = []
    for _ in range(5):
        p = await aw(client.image.generate(urls=[file.url], domain="image.classification"))
        made.append(p.id)
    listing = client.predictions.list()
    if isinstance(client, vlmfiles.AsyncClient):
        got = [p.id async for p in listing]
    else:
        got = [p.id for p in listing]
    assert got == made[::-1]  # newest first, each once
    assert [p.id for p in await aw(client.predictions.list(skip=1, limit=3))] == made[::-1][1:4]


async def test_feedback_corrects_a_prediction_and_reads_back(client, workdir):
    file = await aw(client.files.upload(save(Invoice("INV-FB-1", 80.0), "fb.png")))
    p = await aw(client.image.generate(urls=[file.url], domain="document.invoice"))
    fixed = {**p.response, "total_amount": 88.0}
    stored = await aw(client.feedback.submit(p.id, response=fixed, notes="tax was missed"))
    assert stored.request_id == p.id and stored.id.startswith("fb_")
    await aw(client.feedback.submit(p, notes="second look"))  # a Prediction works as the id
    page = await aw(client.feedback.get(p.id))
    assert [i.notes for i in page.items] == ["second look", "tax was missed"]
    assert page.items[1].response["total_amount"] == 88.0
    assert page.items[1].created_at == stored.created_at
    assert [i.notes for i in (await aw(client.feedback.get(p.id, offset=1))).items] == [
        "tax was missed"
    ]
    with pytest.raises(ValueError, match="`response`"):
        await aw(client.feedback.submit(p.id))
    with pytest.raises(NotFoundError):
        await aw(client.feedback.get("pred_does_not_exist"))
