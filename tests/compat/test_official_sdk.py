"""The official ``vlmrun`` SDK (PyPI, in a venv of its own), unchanged, against a real
vlmfiles server: construction and key check, direct and presigned uploads, caching by
content hash, get/list/delete, the errors it maps from status codes, and files too big for a
direct upload. Each test runs one SDK script (tests/compat/sdk_driver.py) and asserts on its
JSON report, which also lists every HTTP exchange the SDK made."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.sdk_env import SDK_VERSION, LazySdkVenv, clean_env

# The first test also creates the SDK's venv (pip install, a minute or so).
pytestmark = pytest.mark.timeout(600)

MiB = 1024 * 1024
CLIENT_ID = f"python-sdk-{SDK_VERSION}"

JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010101000100010000ffdb00430003020202020203020202030303030406040404"
    "0404080606050609080a0a090809090a0c0f0c0a0b0e0b09090d110d0e0f101011100a0c12131210130f1010"
    "10ffdb00430103030304030408040408100b090b101010101010101010101010101010101010101010101010"
    "1010101010101010101010101010101010101010101010101010ffc000110800100010030122000211010311"
    "01ffc400160001010100000000000000000000000000070405ffc40024100001040104020203000000000000"
    "00000102030406050708121311220014093132ffc4001501010100000000000000000000000000000006ffc4"
    "00231100010205030500000000000000000000010211030405062100123115166181e1ffda000c0301000211"
    "0311003f0014a6d26a1b73c1e61312d4951cf31163e42565beba5aec694540b1e520b254a51fd2cab8faf220"
    "ab963d976c9335e69b77d7e66da71781a5571c7f1cea71e24b39d7e32253f21a69ded4714a38b482e84b892a"
    "71691ecd2d213bf1efb91a74aceea15a758ed548ac655b858b81857b21299867a96b94b949654fb9c8852911"
    "4b812af07ad9f23c807e55be0df662a140cce8e69a3d5cb743b3d77a6558b1d9512188bf64b8d3f1c3680429"
    "c0d0febb3c02e03c5407b4bdd97b54e627fb6edf9460148262138db8529828370589727960e432896fc3828e"
    "a7528cea208dbe78191f07ad7fffd9"
)


def call(name: str, target: str, /, *args: Any, client: str = "c", **kwargs: Any) -> dict:
    """A step calling ``<client>.<target>(*args, **kwargs)`` in the SDK (``client`` names a
    VLMRun made by an earlier step; "c" is the one built from the environment)."""
    return {
        "name": name,
        "op": "call",
        "client": client,
        "method": target,
        "args": [str(a) if isinstance(a, Path) else a for a in args],
        "kwargs": {k: str(v) if isinstance(v, Path) else v for k, v in kwargs.items()},
    }


def new_client(name: str, **kwargs: Any) -> dict:
    """A step constructing ``VLMRun(**kwargs)`` (it GETs /health at once)."""
    return {"name": name, "op": "client", "kwargs": kwargs}


class Report:
    """The SDK script's report, with the checks every run must pass."""

    def __init__(self, raw: dict, server) -> None:
        self.raw = raw
        self.steps = {s["name"]: s for s in raw["steps"]}
        self.server = server

    def __getitem__(self, name: str) -> dict:
        return self.steps[name]

    def ok(self, name: str) -> Any:
        step = self.steps[name]
        assert step["ok"], (
            f"step {name!r} raised:\n{step['error']['traceback']}\n{self.trace(name)}"
        )
        return step["result"]

    def error(self, name: str) -> dict:
        step = self.steps[name]
        assert not step["ok"], f"step {name!r} should have raised, returned {step['result']!r}"
        return step["error"]

    def calls(self, name: str) -> list[tuple[str, str, int | None]]:
        """(method, path or URL, status) of each HTTP exchange of a step; paths are relative
        to the server's /v1 when they are on the server."""
        out = []
        for r in self.steps[name]["requests"]:
            url = r["url"]
            if url.startswith(self.server.base_url + "/"):
                url = url[len(self.server.base_url) + 1 :]
            out.append((r["method"], url, r.get("status")))
        return out

    def trace(self, name: str) -> str:
        return "\n".join(f"  {m} {u} -> {s}" for m, u, s in self.calls(name))

    def check_protocol(self) -> None:
        """No 5xx anywhere (the SDK would retry it with back-off: slow), no retried request,
        the SDK's own headers on every API call, no API key on a presigned PUT."""
        for step in self.raw["steps"]:
            seen = set()
            for r in step["requests"]:
                where = f"step {step['name']!r}: {r['method']} {r['url']}"
                assert "exception" not in r, f"{where} failed: {r['exception']}"
                assert r["status"] < 500, f"{where} -> {r['status']} {r.get('json') or ''}"
                key = (r["method"], r["url"])
                polling = r["method"] == "GET" and "/predictions/" in r["url"]  # wait() polls
                assert polling or key not in seen, (
                    f"{where} was retried:\n{self.trace(step['name'])}"
                )
                seen.add(key)
                if r["method"] == "PUT":  # requests.put to the presigned URL, bare
                    assert "Authorization" not in r["headers"], where
                else:
                    assert r["url"].startswith(self.server.base_url + "/"), where
                    assert r["headers"].get("X-Client-Id") == CLIENT_ID, where
                    assert r["headers"].get("Authorization") == "<set>", where


class Sdk:
    """Runs SDK programs as one tenant of the server (a fresh tenant per test)."""

    def __init__(self, venv: LazySdkVenv, server, cwd: Path) -> None:
        self.venv = venv
        self.server = server
        self.cwd = cwd
        self.key = server.new_key(f"sdk-{uuid.uuid4().hex[:10]}")

    def run(self, *steps: dict, key: str | None = None) -> Report:
        """Construct ``VLMRun()`` from the environment as client "c", then run ``steps``."""
        env = clean_env()
        env["VLMRUN_API_KEY"] = key or self.key
        env["VLMRUN_BASE_URL"] = self.server.base_url
        program = {"steps": [new_client("c"), *steps]}
        report = Report(self.venv.get().run(program, env=env, cwd=self.cwd), self.server)
        assert report.raw["sdk_version"] == SDK_VERSION
        report.check_protocol()
        return report


@pytest.fixture
def sdk(sdk_venv: LazySdkVenv, server, tmp_path: Path) -> Sdk:
    return Sdk(sdk_venv, server, tmp_path)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def download(url: str) -> httpx.Response:
    """GET a URL the server handed out, with no API key."""
    return httpx.get(url, timeout=60)


def assert_file(result: dict, *, data: bytes, filename: str, purpose: str) -> None:
    assert result["__type__"] == "FileResponse"
    assert result["id"]
    assert result["object"] == "file"
    assert result["bytes"] == len(data)
    assert result["filename"] == filename
    assert result["purpose"] == purpose
    assert result["created_at"]
    assert result["public_url"]


# Construction ---------------------------------------------------------------------------


def test_construct_checks_the_key_on_health(sdk: Sdk) -> None:
    report = sdk.run(
        call("healthcheck", "healthcheck"),
        new_client("wrong", api_key="vlm-not-a-key"),
    )
    assert report.ok("c")["base_url"] == sdk.server.base_url
    assert report.calls("c") == [("GET", "health", 200)]
    assert report.ok("healthcheck") is True

    err = report.error("wrong")
    assert err["type"] == "AuthenticationError", err
    assert err["http_status"] == 401
    assert report.calls("wrong") == [("GET", "health", 401)]


def test_construct_with_a_wrong_key_from_the_environment(sdk: Sdk) -> None:
    """VLMRUN_API_KEY wrong: the very first call, VLMRun(), raises AuthenticationError."""
    report = sdk.run(key="vlm-wrong-" + uuid.uuid4().hex)
    err = report.error("c")
    assert err["type"] == "AuthenticationError", err
    assert report.calls("c") == [("GET", "health", 401)]


# Direct uploads and the file lifecycle ------------------------------------------------------


def test_direct_upload_cache_get_list_delete(sdk: Sdk, tmp_path: Path) -> None:
    a_bytes, b_bytes = os.urandom(200_000), os.urandom(1000)
    a = write(tmp_path / "report.bin", a_bytes)
    b = write(tmp_path / "second.bin", b_bytes)
    other_key = sdk.server.new_key(f"sdk-other-{uuid.uuid4().hex[:8]}")

    report = sdk.run(
        call("cached_before", "files.get_cached_file", a),
        call("upload", "files.upload", a),
        call("again", "files.upload", a),
        call("forced", "files.upload", a, force=True),
        call("cached", "files.get_cached_file", a),
        call("upload_b", "files.upload", b, purpose="batch"),
        call("list", "files.list"),
        call("list_page", "files.list", skip=1, limit=1),
        call("list_past_end", "files.list", skip=2, limit=10),
        new_client("other", api_key=other_key),
        call("other_cached", "files.get_cached_file", a, client="other"),
        call("other_list", "files.list", client="other"),
    )
    assert report.ok("cached_before") is None
    assert report.calls("cached_before") == [("GET", f"files/hash/{md5(a_bytes)}", 404)]

    up = report.ok("upload")
    assert_file(up, data=a_bytes, filename="report.bin", purpose="assistants")
    assert report.calls("upload") == [
        ("GET", f"files/hash/{md5(a_bytes)}", 404),
        ("POST", "files?purpose=assistants", 201),
    ]
    post = report["upload"]["requests"][1]
    assert post["headers"]["Content-Type"].startswith("multipart/form-data")

    # The same file again: the SDK finds it by its md5 and does not upload it again.
    assert report.ok("again")["id"] == up["id"]
    assert report.calls("again") == [("GET", f"files/hash/{md5(a_bytes)}", 200)]
    # force=True uploads it again; the server keeps one record for the same bytes.
    assert report.ok("forced")["id"] == up["id"]
    assert report.calls("forced")[-1] == ("POST", "files?purpose=assistants", 201)
    assert report.ok("cached")["id"] == up["id"]

    up_b = report.ok("upload_b")
    assert_file(up_b, data=b_bytes, filename="second.bin", purpose="batch")
    assert up_b["id"] != up["id"]

    listed = report.ok("list")
    assert isinstance(listed, list)
    assert [f["id"] for f in listed] == [up_b["id"], up["id"]]  # newest first
    assert all(f["__type__"] == "FileResponse" for f in listed)
    assert report.calls("list") == [("GET", "files?skip=0&limit=10", 200)]
    assert [f["id"] for f in report.ok("list_page")] == [up["id"]]
    assert report.ok("list_past_end") == []

    # Another tenant sees nothing of ours.
    assert report.ok("other_cached") is None
    assert report.ok("other_list") == []

    # The URL it returned serves the bytes without a key.
    got = download(up["public_url"])
    assert got.status_code == 200
    assert sha256(got.content) == sha256(a_bytes)

    report = sdk.run(
        call("get", "files.get", up["id"]),
        call("other_get", "files.get", up["id"], client="other"),
        call("delete", "files.delete", up["id"]),
        call("get_deleted", "files.get", up["id"]),
        call("delete_again", "files.delete", up["id"]),
        call("cached_after", "files.get_cached_file", a),
        call("list_after", "files.list", 0, 10),
        new_client("other", api_key=other_key),
        call("other_get", "files.get", up["id"], client="other"),
    )
    got = report.ok("get")
    assert_file(got, data=a_bytes, filename="report.bin", purpose="assistants")
    assert got["id"] == up["id"] and got["created_at"] == up["created_at"]
    assert report.calls("get") == [("GET", f"files/{up['id']}", 200)]

    err = report.error("other_get")
    assert err["type"] == "ResourceNotFoundError" and err["http_status"] == 404, err

    deleted = report.ok("delete")
    assert deleted["__type__"] == "FileResponse"
    assert deleted["id"] == up["id"] and deleted["bytes"] == len(a_bytes)
    assert report.calls("delete") == [("DELETE", f"files/{up['id']}", 200)]

    for name in ("get_deleted", "delete_again"):
        err = report.error(name)
        assert err["type"] == "ResourceNotFoundError", err
        assert err["http_status"] == 404
        assert err["message"]  # the server's message, read from {"error": {"message"}}
    assert report.ok("cached_after") is None
    assert [f["id"] for f in report.ok("list_after")] == [up_b["id"]]
    assert download(up["public_url"]).status_code == 404


# Uploads by presigned URL -----------------------------------------------------------------


def test_presigned_url_upload(sdk: Sdk, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = write(tmp_path / "scan.bin", data)
    report = sdk.run(
        call("upload", "files.upload", path, method="presigned-url"),
        call("again", "files.upload", path, method="presigned-url"),
        call("forced", "files.upload", path, method="presigned-url", force=True),
        call("forced_direct", "files.upload", path, force=True),
        call("cached", "files.get_cached_file", path),
        call("list", "files.list"),
    )
    up = report.ok("upload")
    assert_file(up, data=data, filename="scan.bin", purpose="assistants")
    calls = report.calls("upload")
    assert [(m, s) for m, _, s in calls] == [
        ("GET", 404),
        ("POST", 200),
        ("PUT", 200),
        ("GET", 200),
    ]
    assert calls[1][1] == "files/presigned-url"
    presign = report["upload"]["requests"][1]
    assert presign["json"]["filename"] == "scan.bin"
    put = report["upload"]["requests"][2]
    assert put["url"] == presign["json"]["url"]
    assert put["headers"]["Content-Type"] == presign["json"]["content_type"]
    assert put["headers"]["Content-Length"] == str(len(data))
    if sdk.server.is_s3:  # straight to the object store
        assert not put["url"].startswith(sdk.server.origin)
    else:
        assert put["url"].startswith(f"{sdk.server.base_url}/uploads/")
    assert calls[3][1] == f"files/verify-upload/{presign['json']['id']}"

    assert report.ok("again")["id"] == up["id"]
    assert report.calls("again") == [("GET", f"files/hash/{md5(data)}", 200)]
    assert report.ok("forced")["id"] == up["id"]
    assert len(report.calls("forced")) == 4
    assert report.ok("forced_direct")["id"] == up["id"]
    assert report.ok("cached")["id"] == up["id"]
    assert [f["id"] for f in report.ok("list")] == [up["id"]]

    got = download(up["public_url"])
    assert got.status_code == 200
    assert sha256(got.content) == sha256(data)


def test_file_over_32_mib_goes_by_presigned_url_and_round_trips(sdk: Sdk, tmp_path: Path) -> None:
    data = os.urandom(33 * MiB)
    path = write(tmp_path / "big.bin", data)
    report = sdk.run(
        call("upload", "files.upload", path),
        call("cached", "files.get_cached_file", path),
    )
    up = report.ok("upload")
    assert_file(up, data=data, filename="big.bin", purpose="assistants")
    calls = report.calls("upload")
    assert [(m, s) for m, _, s in calls] == [
        ("GET", 404),
        ("POST", 200),
        ("PUT", 200),
        ("GET", 200),
    ]
    assert calls[1][1] == "files/presigned-url"
    assert report.ok("cached")["id"] == up["id"]

    digest = hashlib.sha256()
    size = 0
    with httpx.stream("GET", up["public_url"], timeout=120) as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    assert size == len(data)
    assert digest.hexdigest() == sha256(data)


# Errors the SDK maps from status codes -------------------------------------------------------


def test_errors_map_to_the_sdk_exceptions(sdk: Sdk, tmp_path: Path) -> None:
    binary = write(tmp_path / "blob.bin", os.urandom(5000))
    text = write(tmp_path / "notes.txt", b"just some notes, not an image\n" * 20)
    report = sdk.run(
        call("bad_purpose", "files.upload", binary, purpose="nonsense"),
        call(
            "bad_purpose_presigned",
            "files.upload",
            binary,
            purpose="nonsense",
            method="presigned-url",
        ),
        call("text_as_vision", "files.upload", text, purpose="vision"),
        call(
            "text_as_vision_presigned",
            "files.upload",
            text,
            purpose="vision",
            method="presigned-url",
        ),
        call("get_unknown", "files.get", "file-" + uuid.uuid4().hex),
        call("delete_unknown", "files.delete", "file-" + uuid.uuid4().hex),
        call("list", "files.list"),
    )
    for name in ("bad_purpose", "bad_purpose_presigned"):
        err = report.error(name)
        assert err["type"] == "ValidationError", err
        assert err["http_status"] == 400
        assert "purpose" in err["message"].lower(), err["message"]
    assert report.calls("bad_purpose")[-1] == ("POST", "files?purpose=nonsense", 400)
    assert report.calls("bad_purpose_presigned")[-1] == ("POST", "files/presigned-url", 400)

    err = report.error("text_as_vision")
    assert err["type"] == "APIError", err  # 415 has no subclass of its own in the SDK
    assert err["http_status"] == 415
    assert report.calls("text_as_vision")[-1] == ("POST", "files?purpose=vision", 415)

    # By presigned URL the SDK turns a refused PUT (or verify-upload) into an exception too.
    assert not report["text_as_vision_presigned"]["ok"]
    assert 415 in [s for _, _, s in report.calls("text_as_vision_presigned")]

    for name in ("get_unknown", "delete_unknown"):
        err = report.error(name)
        assert err["type"] == "ResourceNotFoundError", err
        assert err["http_status"] == 404

    assert report.ok("list") == []  # nothing refused was kept

    # Every refusal was answered at once, without the SDK's retry back-off.
    for step in report.raw["steps"]:
        assert step["seconds"] < 5, (step["name"], step["seconds"])


# The pattern of the Files API document ---------------------------------------------------------


def test_spec_pattern_upload_then_use_public_url(sdk: Sdk, tmp_path: Path) -> None:
    """``file = client.files.upload("invoice.jpg")`` (a path relative to the working
    directory), then ``file.public_url`` is fetched by whoever processes it, with no key."""
    write(tmp_path / "invoice.jpg", JPEG)
    write(tmp_path / "photo.jpg", JPEG + b"trailing bytes make it another file")
    report = sdk.run(
        call("upload", "files.upload", "invoice.jpg"),
        call("vision", "files.upload", "photo.jpg", purpose="vision"),
    )
    file = report.ok("upload")
    assert_file(file, data=JPEG, filename="invoice.jpg", purpose="assistants")
    vision = report.ok("vision")
    assert vision["purpose"] == "vision" and vision["filename"] == "photo.jpg"

    for rec, data in ((file, JPEG), (vision, JPEG + b"trailing bytes make it another file")):
        got = download(rec["public_url"])
        assert got.status_code == 200
        assert got.content == data
        assert got.headers["content-type"].startswith("image/jpeg")
