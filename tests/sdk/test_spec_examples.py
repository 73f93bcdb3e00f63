"""Each example of the Files API spec (``/work/shared/spec/files-api.txt``), run against a
real server with ``vlmrun`` read as ``vlmfiles``, checking what the spec says it prints.

Every test runs twice, with ``Client`` and ``AsyncClient`` (see ``conftest.py``)."""

from __future__ import annotations

import datetime as dt
import glob
import io
import json
import os
import re

import httpx
import pytest

import vlmfiles
from vlmfiles.exceptions import NotFoundError

from .conftest import aw, write

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
FILE_ID = re.compile(r"file_[0-9a-f]+")


def jpeg() -> bytes:
    return JPEG + os.urandom(512)


async def test_upload_a_file(client, workdir, capsys):
    write("invoice.jpg", jpeg())

    # Upload a file
    file = await aw(client.files.upload("invoice.jpg"))
    print(f"File ID: {file.id}, URL: {file.url}")

    out = capsys.readouterr().out
    assert re.fullmatch(r"File ID: file_[0-9a-f]+, URL: http://\S+\n", out), out
    # The URL works on its own (no API key): it is signed.
    assert httpx.get(file.url).content == (workdir / "invoice.jpg").read_bytes()
    assert file.filename == "invoice.jpg" and file.purpose == "assistants"


async def test_basic_upload_with_default_settings(client, workdir):
    content = write("document.pdf").read_bytes()
    file = await aw(client.files.upload("document.pdf"))
    assert (file.filename, file.bytes, file.purpose) == ("document.pdf", len(content), "assistants")


@pytest.mark.parametrize(
    "name, content",
    [
        ("training_data.json", json.dumps({"messages": [{"role": "user", "content": "hi"}]})),
        ("training_data.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": "c"}\n'),
    ],
)
async def test_upload_with_purpose_fine_tune(client, workdir, name, content):
    write(name, content.encode())

    # Upload for fine-tuning
    file = await aw(client.files.upload(file=name, purpose="fine-tune"))

    assert (file.filename, file.purpose, file.bytes) == (name, "fine-tune", len(content))
    assert file.content_type in ("application/json", "application/x-ndjson")


async def test_upload_from_file_object(client, workdir):
    content = write("document.pdf").read_bytes()

    # Upload from an open file handle
    with open("document.pdf", "rb") as f:
        file = await aw(client.files.upload(file=f, filename="document.pdf"))

    assert (file.filename, file.bytes) == ("document.pdf", len(content))
    assert f.closed  # closed by the `with`, as usual: the SDK left the caller's handle open
    fetched = (
        b"".join([c async for c in client.files.content(file.id)])
        if isinstance(client, vlmfiles.AsyncClient)
        else b"".join(client.files.content(file.id))
    )
    assert fetched == content


async def test_upload_from_bytesio(client):
    content = os.urandom(4096)
    file = await aw(client.files.upload(file=io.BytesIO(content), filename="blob.bin"))
    assert (file.filename, file.bytes) == ("blob.bin", len(content))
    # A handle opened without a filename is named after the file it reads.
    unnamed = await aw(client.files.upload(io.BytesIO(os.urandom(10))))
    assert unnamed.filename == "file"


async def test_get_file_details(client, workdir, capsys):
    content = write("invoice.jpg", jpeg()).read_bytes()
    uploaded = await aw(client.files.upload("invoice.jpg"))

    # Get file details
    file = await aw(client.files.get(uploaded.id))
    print(f"Name: {file.filename}, Size: {file.bytes} bytes")
    # Access file properties
    print(f"Name: {file.filename}")
    print(f"Size: {file.bytes} bytes")
    print(f"Purpose: {file.purpose}")
    print(f"Created: {file.created_at}")

    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        f"Name: invoice.jpg, Size: {len(content)} bytes",
        "Name: invoice.jpg",
        f"Size: {len(content)} bytes",
        "Purpose: assistants",
    ]
    assert re.fullmatch(r"Created: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00:00", lines[4])
    # Equal but for the signed URL, which is signed afresh (its expiry moves on).
    unsigned = {"url", "public_url", "url_expires_at"}
    assert file.model_dump(exclude=unsigned) == uploaded.model_dump(exclude=unsigned)


async def test_list_files(client, workdir, capsys):
    uploaded = [await aw(client.files.upload(write(f"doc{i}.pdf"))) for i in range(12)]

    # List your files
    files = await aw(client.files.list(limit=10))
    for file in files:
        print(f"{file.filename} ({file.id})")

    newest_first = uploaded[::-1][:10]
    assert capsys.readouterr().out.splitlines() == [f"{f.filename} ({f.id})" for f in newest_first]

    # List all files (paginated): `limit=20` is more than there are.
    files = await aw(client.files.list(limit=20))
    assert [f.id for f in files] == [f.id for f in uploaded[::-1]]


async def test_list_filters_by_purpose(client, workdir):
    tunes = [
        await aw(client.files.upload(write(f"t{i}.jsonl", b'{"i": %d}\n' % i), purpose="fine-tune"))
        for i in range(3)
    ]
    for i in range(2):
        await aw(client.files.upload(write(f"other{i}.pdf")))

    # Filter by purpose
    fine_tune_files = await aw(client.files.list(purpose="fine-tune", limit=10))

    assert [f.id for f in fine_tune_files] == [f.id for f in tunes[::-1]]
    assert {f.purpose for f in fine_tune_files} == {"fine-tune"}


async def test_pagination_with_skip(client, workdir):
    uploaded = [await aw(client.files.upload(write(f"p{i}.pdf"))) for i in range(45)]
    newest_first = [f.id for f in uploaded[::-1]]

    first_page = await aw(client.files.list(limit=20))
    # Pagination
    next_page = await aw(client.files.list(skip=20, limit=20))
    last_page = await aw(client.files.list(skip=40, limit=20))

    assert [f.id for f in first_page] == newest_first[:20]
    assert [f.id for f in next_page] == newest_first[20:40]
    assert [f.id for f in last_page] == newest_first[40:]


async def test_delete_a_file(client, workdir):
    keep = await aw(client.files.upload(write("keep.pdf")))
    file = await aw(client.files.upload(write("gone.pdf")))

    # Delete a file by ID
    deleted = await aw(client.files.delete(file.id))

    assert deleted.id == file.id
    with pytest.raises(NotFoundError) as info:
        await aw(client.files.get(file.id))
    assert info.value.status_code == 404
    assert [f.id for f in await aw(client.files.list(limit=10))] == [keep.id]
    with pytest.raises(NotFoundError):
        await aw(client.files.delete(file.id))


async def test_temporary_file_management(client, workdir):
    # Upload a temporary file
    temp_file = await aw(client.files.upload(write("temp_image.jpg", jpeg())))
    try:
        assert (await aw(client.files.get(temp_file.id))).filename == "temp_image.jpg"
    finally:
        # Clean up when done
        await aw(client.files.delete(temp_file.id))
    with pytest.raises(NotFoundError):
        await aw(client.files.get(temp_file.id))


async def test_batch_processing_multiple_files(client, workdir):
    for i in range(5):
        write(f"invoices/inv-{i}.pdf")
    write("invoices/notes.txt", b"not a pdf")

    # Get all PDFs in a directory
    pdf_files = glob.glob("./invoices/*.pdf")
    results = []
    for path in pdf_files:
        # 1. Upload file
        file = await aw(client.files.upload(path, purpose="batch"))
        results.append(file.id)

    assert len(set(results)) == 5
    listed = await aw(client.files.list(purpose="batch"))
    assert {f.id for f in listed} == set(results)
    assert {f.filename for f in listed} == {f"inv-{i}.pdf" for i in range(5)}


async def test_same_file_twice_returns_the_same_id(client, workdir, capsys):
    write("report.pdf")

    # Upload same file twice
    file1 = await aw(client.files.upload("report.pdf"))
    file2 = await aw(client.files.upload("report.pdf"))

    # Both operations return the same file ID
    print(f"Same file ID: {file1.id == file2.id}")  # True

    assert capsys.readouterr().out == "Same file ID: True\n"
    assert len(await aw(client.files.list())) == 1


async def test_resending_the_same_bytes_never_creates_a_second_file(client, workdir):
    """What a retried upload does: the bytes reach the server again (``force=True`` skips
    the local cache check), and the server answers with the file it already has."""
    write("report.pdf")
    first = await aw(client.files.upload("report.pdf"))
    again = await aw(client.files.upload("report.pdf", force=True))
    with open("report.pdf", "rb") as f:
        handle = await aw(client.files.upload(f, force=True))
    assert first.id == again.id == handle.id
    assert [f.id for f in await aw(client.files.list())] == [first.id]


async def test_pre_upload_caching_check(client, workdir, capsys):
    write("large-dataset.zip", b"PK\x03\x04" + os.urandom(2048))

    async def spec_block() -> str:
        # Check if file exists in cache
        cached_file = await aw(client.files.get_cached_file("large-dataset.zip"))

        if cached_file:
            file_id = cached_file.id
            print(f"Using existing file: {file_id}")
        else:
            file = await aw(client.files.upload("large-dataset.zip"))
            file_id = file.id
            print(f"Uploaded new file: {file_id}")
        return file_id

    first = await spec_block()
    second = await spec_block()

    assert capsys.readouterr().out.splitlines() == [
        f"Uploaded new file: {first}",
        f"Using existing file: {first}",
    ]
    assert second == first


async def test_get_cached_file_is_none_for_unknown_content(client, workdir):
    write("new.bin", os.urandom(100))
    assert await aw(client.files.get_cached_file("new.bin")) is None
    with pytest.raises(FileNotFoundError):
        await aw(client.files.get_cached_file("missing.bin"))


async def test_check_cache_for_efficiency(client, workdir):
    files_to_upload = [str(write(f"f{i}.pdf")) for i in range(3)]
    known = await aw(client.files.upload(files_to_upload[1]))

    ids = []
    # Efficiently upload multiple files
    for path in files_to_upload:
        cached = await aw(client.files.get_cached_file(path))
        if cached:
            file_id = cached.id  # Use existing file
        else:
            file = await aw(client.files.upload(path))
            file_id = file.id
        ids.append(file_id)

    assert ids[1] == known.id and len(set(ids)) == 3


async def test_descriptive_filename_is_kept(client, workdir):
    write("invoice-march2023-acme-corp.jpg", jpeg())
    # ✅ Good: Descriptive name
    file = await aw(client.files.upload("invoice-march2023-acme-corp.jpg"))
    assert file.filename == "invoice-march2023-acme-corp.jpg"


async def test_response_structure(client, workdir, capsys):
    content = write("document.pdf").read_bytes()
    before = dt.datetime.now(dt.timezone.utc)
    uploaded = await aw(client.files.upload("document.pdf"))
    after = dt.datetime.now(dt.timezone.utc)

    file = await aw(client.files.get(uploaded.id))
    print(f"ID: {file.id}")
    print(f"Filename: {file.filename}")
    print(f"Size: {file.bytes} bytes")
    print(f"Purpose: {file.purpose}")
    print(f"Created: {file.created_at}")
    print(f"Object type: {file.object}")  # Always "file"

    lines = capsys.readouterr().out.splitlines()
    assert FILE_ID.fullmatch(lines[0].removeprefix("ID: "))
    assert lines[1:4] == [
        "Filename: document.pdf",
        f"Size: {len(content)} bytes",
        "Purpose: assistants",
    ]
    assert lines[5] == "Object type: file"

    assert isinstance(file, vlmfiles.FileResponse)
    assert isinstance(file.id, str) and FILE_ID.fullmatch(file.id)
    assert file.filename == "document.pdf"
    assert type(file.bytes) is int and file.bytes == len(content)
    assert file.purpose == "assistants"
    assert file.object == "file"
    assert isinstance(file.created_at, dt.datetime)
    assert file.created_at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= file.created_at <= after + dt.timedelta(seconds=1)
    assert set(file.model_dump()) >= {"id", "filename", "bytes", "purpose", "created_at", "object"}


async def test_timeout_per_call_reaches_the_request(server, key, workdir):
    """``timeout=600`` on one call is that request's timeout (connect, read, write, pool)."""
    seen: list[dict] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.extensions["timeout"])

    async def arecord(request: httpx.Request) -> None:
        record(request)

    write("large-video.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(1024))
    http = httpx.Client(event_hooks={"request": [record]})
    with vlmfiles.Client(key, server.base_url, http_client=http) as c:
        # Extend timeout for large files
        c.files.upload(file="large-video.mp4", timeout=600)  # 10 minutes
    http.close()
    ahttp = httpx.AsyncClient(event_hooks={"request": [arecord]})
    async with vlmfiles.AsyncClient(key, server.base_url, http_client=ahttp) as ac:
        await ac.files.upload(file="large-video.mp4", timeout=600, force=True)
    await ahttp.aclose()

    uploads = [t for t in seen if t["read"] == 600]
    assert len(uploads) == 2
    assert uploads[0] == {"connect": 600, "read": 600, "write": 600, "pool": 600}


async def test_list_result_behaves_like_the_official_sdks_list(client, workdir):
    """The official SDK returns ``List[FileResponse]``; code written for it keeps working."""
    assert await aw(client.files.list()) == []
    assert not await aw(client.files.list())
    uploaded = [await aw(client.files.upload(write(f"l{i}.pdf"))) for i in range(3)]
    files = await aw(client.files.list())
    assert len(files) == 3 and files
    assert [f.id for f in files] == [f.id for f in uploaded[::-1]]
    assert files[0].id == uploaded[-1].id and files[-1].id == uploaded[0].id
    assert [f.id for f in files[:2]] == [f.id for f in uploaded[:0:-1]]
    assert files == list(files) and files != []
