"""Retries as a table: which statuses are retried, how many times, how long the SDK waits,
and that a retried upload sends the same complete body again (the stream is rewound).

The server is an ``httpx.MockTransport`` (or a transport that fails mid-body); sleeping is
recorded, not done."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest

import vlmfiles
from vlmfiles._base_client import AsyncAPIClient, SyncAPIClient

from .conftest import aw

BASE = "http://files.test/v1"
FILE = {
    "id": "file_0123456789abcdef",
    "filename": "a.bin",
    "bytes": 3,
    "purpose": "assistants",
    "created_at": "2025-01-01T00:00:00Z",
    "object": "file",
}


def error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"message": f"status {status}", "type": "test", "id": "req_1"}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        slept.append(seconds)

    async def asleep(self, seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(SyncAPIClient, "_sleep", sleep)
    monkeypatch.setattr(AsyncAPIClient, "_sleep", asleep)
    return slept


@pytest.fixture(params=["sync", "async"])
def make_client(request):
    """``make_client(handler, max_retries)``: a client whose server is ``handler``."""
    made = []

    def make(handler: Callable[[httpx.Request], httpx.Response], max_retries: int = 2):
        if request.param == "sync":
            http = httpx.Client(transport=httpx.MockTransport(handler))
            c = vlmfiles.Client("key", BASE, max_retries=max_retries, http_client=http)
        else:
            http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
            c = vlmfiles.AsyncClient("key", BASE, max_retries=max_retries, http_client=http)
        made.append(http)
        return c

    make.flavour = request.param
    yield make
    for http in made:
        if isinstance(http, httpx.Client):
            http.close()


RETRIED = [408, 429, 500, 502, 503]
NOT_RETRIED = [400, 401, 404, 409, 413, 415]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
@pytest.mark.parametrize("status", RETRIED + NOT_RETRIED)
async def test_which_statuses_are_retried_and_how_often(make_client, sleeps, status, max_retries):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(status)

    client = make_client(handler, max_retries)
    with pytest.raises(vlmfiles.ApiError) as info:
        await aw(client.files.get("file_x"))
    assert info.value.status_code == status
    assert info.value.message == f"status {status}"
    expected_attempts = max_retries + 1 if status in RETRIED else 1
    assert len(calls) == expected_attempts
    assert len(sleeps) == expected_attempts - 1


@pytest.mark.parametrize("status", RETRIED)
async def test_a_retried_status_then_success_returns_the_answer(make_client, sleeps, status):
    answers = iter([error(status), error(status), httpx.Response(200, json=FILE)])
    client = make_client(lambda request: next(answers), 2)
    file = await aw(client.files.get("file_0123456789abcdef"))
    assert file.id == FILE["id"] and len(sleeps) == 2


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"Retry-After-Ms": "1500"}, 1.5),
        ({"Retry-After": "7", "Retry-After-Ms": "200"}, 0.2),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(make_client, sleeps, status, headers, expected):
    answers = iter([error(status, headers), httpx.Response(200, json=FILE)])
    client = make_client(lambda request: next(answers))
    await aw(client.files.get("file_x"))
    assert sleeps == [expected]


async def test_retry_after_as_an_http_date(make_client, sleeps):
    import time

    when = formatdate(time.time() + 5, usegmt=True)
    answers = iter([error(429, {"Retry-After": when}), httpx.Response(200, json=FILE)])
    await aw(make_client(lambda request: next(answers)).files.get("file_x"))
    assert len(sleeps) == 1 and 3.5 <= sleeps[0] <= 5.0


@pytest.mark.parametrize("header", ["-1", "3600", "soon"])
async def test_unusable_retry_after_falls_back_to_backoff(make_client, sleeps, header):
    answers = iter([error(429, {"Retry-After": header}), httpx.Response(200, json=FILE)])
    await aw(make_client(lambda request: next(answers)).files.get("file_x"))
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


async def test_backoff_grows_with_jitter_and_a_ceiling(make_client, sleeps):
    client = make_client(lambda request: error(500), 6)
    with pytest.raises(vlmfiles.exceptions.ServerError):
        await aw(client.files.get("file_x"))
    assert len(sleeps) == 6
    for slept, base in zip(sleeps, [0.5, 1, 2, 4, 8, 8], strict=True):
        assert base * 0.75 <= slept <= base


@pytest.mark.parametrize(
    "exc, error_class",
    [
        (httpx.ConnectError("refused"), vlmfiles.APIConnectionError),
        (httpx.ReadError("reset"), vlmfiles.APIConnectionError),
        (httpx.RemoteProtocolError("hung up"), vlmfiles.APIConnectionError),
        (httpx.ReadTimeout("slow"), vlmfiles.APITimeoutError),
    ],
)
@pytest.mark.parametrize("max_retries", [0, 2])
async def test_connection_errors_are_retried(make_client, sleeps, exc, error_class, max_retries):
    calls = []

    def failing(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise exc

    with pytest.raises(error_class):
        await aw(make_client(failing, max_retries).files.get("file_x"))
    assert len(calls) == max_retries + 1 and len(sleeps) == max_retries

    outcomes = iter([exc, httpx.Response(200, json=FILE)])

    def flaky(request: httpx.Request) -> httpx.Response:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    if max_retries:
        assert (await aw(make_client(flaky, max_retries).files.get("file_x"))).id == FILE["id"]


# A retried upload --------------------------------------------------------------------


class FailsMidBody(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Reads ``fail_after`` bytes of the first upload's body, then breaks the connection;
    answers every later upload after reading its whole body. Keeps every body it read."""

    def __init__(self, fail_after: int, fail_times: int = 1) -> None:
        self.fail_after = fail_after
        self.fail_times = fail_times
        self.bodies: list[bytes] = []

    def _answer(self, request: httpx.Request, body: bytes, complete: bool) -> httpx.Response:
        self.bodies.append(body)
        if not complete:
            raise httpx.WriteError("connection reset while sending the body")
        file_part = body.split(b"filename=", 1)[1]  # after the sha256 field
        content = file_part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
        return httpx.Response(201, json={**FILE, "bytes": len(content)})

    def _route(self, request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and "/files/hash/" in request.url.path:
            return error(404)
        return None

    def _fail_now(self) -> bool:
        return len(self.bodies) < self.fail_times

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._route(request)
        if answer is not None:
            return answer
        body, fail = bytearray(), self._fail_now()
        for chunk in request.stream:
            body += chunk
            if fail and len(body) >= self.fail_after:
                return self._answer(request, bytes(body), False)
        return self._answer(request, bytes(body), True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._route(request)
        if answer is not None:
            return answer
        body, fail = bytearray(), self._fail_now()
        async for chunk in request.stream:
            body += chunk
            if fail and len(body) >= self.fail_after:
                return self._answer(request, bytes(body), False)
        return self._answer(request, bytes(body), True)


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("source", ["path", "handle", "bytesio-mid-stream"])
async def test_upload_failing_mid_body_is_resent_whole(flavour, source, sleeps, tmp_path):
    content = os.urandom(3 * 1024 * 1024 + 17)  # several 1 MiB chunks
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    transport = FailsMidBody(fail_after=1024 * 1024 + 5)
    progress: list[tuple[int, int]] = []

    def upload_arg():
        if source == "path":
            return str(path)
        if source == "handle":
            return open(path, "rb")  # noqa: SIM115 - closed below
        f = io.BytesIO(b"HEADER" + content)
        f.seek(6)  # the upload is what follows the current position
        return f

    arg = upload_arg()
    kwargs = {"filename": "big.bin", "on_progress": lambda s, t: progress.append((s, t))}
    try:
        if flavour == "sync":
            with vlmfiles.Client("k", BASE, http_client=httpx.Client(transport=transport)) as c:
                file = c.files.upload(arg, **kwargs)
        else:
            http = httpx.AsyncClient(transport=transport)
            async with vlmfiles.AsyncClient("k", BASE, http_client=http) as c:
                file = await c.files.upload(arg, **kwargs)
    finally:
        if hasattr(arg, "close"):
            arg.close()

    first, second = transport.bodies
    assert len(first) < len(second)
    assert second.startswith(first)  # byte-identical: same boundary, same bytes
    # The sha256 field first (the server checks the bytes against it), then the file part.
    field, file_part = second.split(b'filename="big.bin"', 1)
    assert hashlib.sha256(content).hexdigest().encode() in field
    sent = file_part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
    assert hashlib.sha256(sent).digest() == hashlib.sha256(content).digest()
    assert second.endswith(b"--\r\n")
    assert file.bytes == len(content)
    assert len(sleeps) == 1
    assert progress[-1] == (len(content), len(content))


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_upload_of_an_unseekable_stream_is_not_retried(flavour, sleeps):
    """A pipe cannot be rewound: resending would send a truncated file, so the error is
    raised instead."""

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, b) -> int:
            chunk = self.data.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    transport = FailsMidBody(fail_after=1024 * 1024 + 5)
    pipe = io.BufferedReader(Pipe(os.urandom(2 * 1024 * 1024)))
    with pytest.raises(vlmfiles.APIConnectionError):
        if flavour == "sync":
            with vlmfiles.Client("k", BASE, http_client=httpx.Client(transport=transport)) as c:
                c.files.upload(pipe, filename="p.bin")
        else:
            http = httpx.AsyncClient(transport=transport)
            async with vlmfiles.AsyncClient("k", BASE, http_client=http) as c:
                await c.files.upload(pipe, filename="p.bin")
    assert len(transport.bodies) == 1 and sleeps == []


async def test_error_without_json_body_keeps_the_text(make_client, sleeps):
    client = make_client(lambda request: httpx.Response(404, text="no such thing"), 0)
    with pytest.raises(vlmfiles.NotFoundError) as info:
        await aw(client.files.get("file_x"))
    assert info.value.message == "no such thing"
    assert json.dumps(info.value.status_code) == "404"


# Against the real server ---------------------------------------------------------------


class LosesFirstUploadAnswer(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Forwards to the real server, but the answer to the first ``method`` request (an
    upload) is lost on the way back, though the server did it: the SDK sees a broken
    connection and retries."""

    def __init__(self, method: str = "POST") -> None:
        self.sync = httpx.HTTPTransport()
        self.async_ = httpx.AsyncHTTPTransport()
        self.method = method
        self.uploads = 0

    def _lose(self, request: httpx.Request) -> bool:
        if request.method != self.method:
            return False
        self.uploads += 1
        return self.uploads == 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.sync.handle_request(request)
        if self._lose(request):
            response.read()
            response.close()
            raise httpx.ReadError("connection reset before the answer arrived")
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.async_.handle_async_request(request)
        if self._lose(request):
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection reset before the answer arrived")
        return response

    def close(self) -> None:
        self.sync.close()

    async def aclose(self) -> None:
        await self.async_.aclose()


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_retried_upload_never_creates_a_second_file(flavour, server, key, sleeps, tmp_path):
    path = tmp_path / "once.pdf"
    path.write_bytes(os.urandom(100_000))
    transport = LosesFirstUploadAnswer()
    if flavour == "sync":
        with vlmfiles.Client(
            key, server.base_url, http_client=httpx.Client(transport=transport)
        ) as c:
            file = c.files.upload(path)
            listed = list(c.files.list())
        transport.close()
    else:
        http = httpx.AsyncClient(transport=transport)
        async with vlmfiles.AsyncClient(key, server.base_url, http_client=http) as c:
            file = await c.files.upload(path)
            listed = await c.files.list()
        await http.aclose()
    assert transport.uploads == 2 and len(sleeps) == 1  # the server got the bytes twice
    assert [f.id for f in listed] == [file.id]  # and kept one file
    assert file.bytes == 100_000


async def test_a_delete_whose_answer_was_lost_reports_not_found(server, key, sleeps, tmp_path):
    """The documented limit of retrying a DELETE: the retry finds the file already gone."""
    path = tmp_path / "gone.pdf"
    path.write_bytes(os.urandom(1000))
    transport = LosesFirstUploadAnswer("DELETE")
    with vlmfiles.Client(key, server.base_url, http_client=httpx.Client(transport=transport)) as c:
        file = c.files.upload(path)
        with pytest.raises(vlmfiles.NotFoundError):
            c.files.delete(file.id)
        assert list(c.files.list()) == []
    transport.close()
    assert transport.uploads == 2 and len(sleeps) == 1
