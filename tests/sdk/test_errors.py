"""The spec's error handling block, run as written against a real server, and the SDK's
early failures (no request is sent for a missing path, an empty id, or no API key)."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
import pytest_asyncio

import vlmfiles
import vlmfiles.client.exceptions as official_path
from vlmfiles.exceptions import ApiError, NotFoundError

from .conftest import aw, write

MiB = 1024 * 1024


def spec_error_block(upload) -> None:
    """The spec's block, with ``client.files.upload("document.pdf")`` passed in as ``upload``
    (sync: the call; async: run by the caller) so it runs as written for both clients."""
    try:
        file = upload()  # file = client.files.upload("document.pdf")
        print(f"Uploaded {file.id}")
    except FileNotFoundError:
        print("Local file not found")
    except ApiError as e:
        if e.status_code == 413:
            print("File too large")
        elif e.status_code == 415:
            print("Unsupported file type")
        else:
            print(f"API error: {e.message}")


class Recorder:
    """``Client``/``AsyncClient`` of one flavour, counting every request it sends."""

    def __init__(self, flavour: str, base_url: str, key: str) -> None:
        self.requests: list[httpx.Request] = []
        self.flavour = flavour
        if flavour == "sync":
            self.http = httpx.Client(event_hooks={"request": [self.requests.append]})
            self.client = vlmfiles.Client(key, base_url, http_client=self.http)
        else:

            async def hook(request: httpx.Request) -> None:
                self.requests.append(request)

            self.http = httpx.AsyncClient(event_hooks={"request": [hook]})
            self.client = vlmfiles.AsyncClient(key, base_url, http_client=self.http)

    async def run_spec_block(self, *args, **kwargs) -> None:
        """The spec's block around ``client.files.upload(*args, **kwargs)``."""
        if self.flavour == "sync":
            spec_error_block(lambda: self.client.files.upload(*args, **kwargs))
            return
        try:
            result = await self.client.files.upload(*args, **kwargs)
        except (FileNotFoundError, ApiError) as exc:
            error = exc

            def upload():
                raise error

        else:

            def upload():
                return result

        spec_error_block(upload)

    async def close(self) -> None:
        if self.flavour == "sync":
            self.http.close()
        else:
            await self.http.aclose()


@pytest_asyncio.fixture(params=["sync", "async"], loop_scope="function")
async def rec(request, server, key):
    r = Recorder(request.param, server.base_url, key)
    yield r
    await r.close()


@pytest.fixture
def small_key(small_server) -> str:
    return small_server.new_key(uuid.uuid4().hex)


@pytest_asyncio.fixture(params=["sync", "async"], loop_scope="function")
async def small_rec(request, small_server, small_key):
    r = Recorder(request.param, small_server.base_url, small_key)
    yield r
    await r.close()


def test_the_spec_import_path_names_the_same_classes():
    # from vlmrun.client.exceptions import ApiError, NotFoundError
    assert official_path.ApiError is ApiError is vlmfiles.ApiError
    assert official_path.NotFoundError is NotFoundError
    assert issubclass(NotFoundError, ApiError)
    assert sorted(official_path.__all__) == sorted(vlmfiles.exceptions.__all__)


async def test_missing_local_file_is_found_before_any_request(rec, workdir, capsys):
    await rec.run_spec_block("document.pdf")
    assert capsys.readouterr().out == "Local file not found\n"
    assert rec.requests == []
    with pytest.raises(FileNotFoundError, match="document.pdf"):
        await aw(rec.client.files.upload("document.pdf"))
    with pytest.raises(FileNotFoundError):
        await aw(rec.client.files.get_cached_file("document.pdf"))
    assert rec.requests == []


async def test_file_too_large_is_413_with_the_limit(small_rec, workdir, capsys):
    write("document.pdf", os.urandom(2 * MiB))
    await small_rec.run_spec_block("document.pdf")
    assert capsys.readouterr().out == "File too large\n"

    # Just over the limit, where only the streamed count can tell.
    write("edge.bin", os.urandom(MiB + 1))
    with pytest.raises(vlmfiles.PayloadTooLargeError) as info:
        await aw(small_rec.client.files.upload("edge.bin"))
    assert info.value.status_code == 413
    assert "limit of 1 MiB" in info.value.message
    posts = [r for r in small_rec.requests if r.method == "POST"]
    assert len(posts) == 2  # never retried
    assert len(await aw(small_rec.client.files.list())) == 0


async def test_unsupported_type_for_the_purpose_is_415(rec, workdir, capsys):
    write("document.pdf", b"plain text, not an image\n")
    await rec.run_spec_block("document.pdf", purpose="vision")
    assert capsys.readouterr().out == "Unsupported file type\n"
    with pytest.raises(vlmfiles.UnsupportedMediaTypeError) as info:
        await aw(rec.client.files.upload("document.pdf", purpose="vision"))
    assert "vision" in info.value.message and "text/plain" in info.value.message
    assert info.value.request_id


async def test_other_api_errors_print_the_message(server, workdir, capsys):
    write("document.pdf")
    bad = Recorder("sync", server.base_url, "vlm-not-a-key")
    await bad.run_spec_block("document.pdf")
    await bad.close()
    out = capsys.readouterr().out
    assert out.startswith("API error: ") and out.count("\n") == 1
    with vlmfiles.Client("vlm-not-a-key", server.base_url) as c:
        with pytest.raises(vlmfiles.AuthenticationError) as info:
            c.files.list(limit=1)[0]
    assert info.value.status_code == 401


async def test_unknown_purpose_is_a_400(rec, workdir, capsys):
    write("document.pdf")
    await rec.run_spec_block("document.pdf", purpose="nonsense")
    out = capsys.readouterr().out
    assert out.startswith("API error: ") and "nonsense" in out
    with pytest.raises(vlmfiles.ValidationError) as info:
        await aw(rec.client.files.upload("document.pdf", purpose="nonsense"))
    assert info.value.status_code == 400


async def test_unknown_id_is_not_found(rec):
    for call in (rec.client.files.get, rec.client.files.delete):
        with pytest.raises(NotFoundError) as info:
            await aw(call("file_0123456789abcdef"))
        assert info.value.status_code == 404 and info.value.message
        assert info.value.request_id and info.value.request_id in str(info.value)


@pytest.mark.parametrize("method", ["get", "delete", "download"])
async def test_empty_id_is_a_value_error_before_any_request(rec, method, workdir):
    with pytest.raises(ValueError, match=r"^Expected a non-empty value for `file_id`$"):
        await aw(getattr(rec.client.files, method)(""))
    assert rec.requests == []


def test_empty_id_for_content_raises_at_the_call(rec):
    """Not later, when the stream is first read: the mistake shows where it was made."""
    with pytest.raises(ValueError, match=r"^Expected a non-empty value for `file_id`$"):
        rec.client.files.content("")
    assert rec.requests == []


@pytest.mark.parametrize("cls", [vlmfiles.Client, vlmfiles.AsyncClient])
def test_missing_api_key_fails_at_construction(cls, monkeypatch):
    monkeypatch.delenv("VLMFILES_API_KEY", raising=False)
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    with pytest.raises(vlmfiles.exceptions.VlmFilesError) as info:
        cls()
    assert "api_key" in str(info.value) and "VLMFILES_API_KEY" in str(info.value)


@pytest.mark.parametrize("var", ["VLMFILES", "VLMRUN"])
def test_key_and_base_url_from_the_environment(var, server, key, monkeypatch):
    for prefix in ("VLMFILES", "VLMRUN"):
        monkeypatch.delenv(f"{prefix}_API_KEY", raising=False)
        monkeypatch.delenv(f"{prefix}_BASE_URL", raising=False)
    monkeypatch.setenv(f"{var}_API_KEY", key)
    monkeypatch.setenv(f"{var}_BASE_URL", server.base_url)
    with vlmfiles.Client() as c:
        assert c.base_url == server.base_url
        assert list(c.files.list()) == []
