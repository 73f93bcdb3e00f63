"""A job's inputs, written to local files for the engine (worker side).

Files are read from the metadata database and blob store directly (never over HTTP); data
URLs from the prediction row; outside URLs fetched through ``GuardedBackend``, which checks
every address a name resolves to when it connects (a DNS answer that changed since submit,
or a redirect to a private address, is refused), with a size cap and a timeout.

    EngineError (base.py)          the job fails with the reason, not retried
    TransientInputError            a fault worth retrying (network, 5xx, store): the job is
                                   retried with backoff, then fails with the reason
"""

from __future__ import annotations

import base64
import socket
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import anyio
import httpcore

from ..engines.base import EngineError, EngineInput, InputRejected
from ..metadata.store import MetadataStore
from ..sniff import detect
from ..storage.base import BlobStore
from .inputs import is_public_address

MAX_REDIRECTS = 5
HEAD_BYTES = 8192


class TransientInputError(Exception):
    """Fetching an input failed in a way a later attempt may not."""


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to public addresses (unless allowed), checked once resolved."""

    def __init__(self, allow_private: bool, what: str = "the input URL") -> None:
        self.allow_private = allow_private
        self.what = what  # named in the refusal: an input URL, or a callback_url

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        addresses = [str(info[4][0]) for info in infos]
        if not self.allow_private:
            refused = [a for a in addresses if not is_public_address(a)]
            if refused:
                raise InputRejected(
                    f"{self.what}'s host {host!r} resolves to {refused[0]}, a loopback, "
                    "private or link-local address, which this server does not fetch "
                    "(VLMFILES_ALLOW_PRIVATE_URLS)"
                )
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


@dataclass
class Fetcher:
    """Writes inputs to ``folder``; bounded by ``max_bytes`` per input."""

    files: MetadataStore
    blobs: BlobStore
    max_bytes: int
    timeout: float
    allow_private: bool

    async def materialize(
        self, tenant_id: str, inputs: Sequence[dict[str, Any]], folder: Path
    ) -> list[EngineInput]:
        out = []
        for n, item in enumerate(inputs):
            path = folder / f"input-{n}"
            if item["kind"] == "file":
                name = await self._file(tenant_id, item["file_id"], path)
            elif item["kind"] == "data":
                name = f"image {n + 1}"
                raw = base64.b64decode(item["data"])
                self._check_size(len(raw), name)
                path.write_bytes(raw)
            else:
                name = unquote(urlsplit(item["url"]).path.rsplit("/", 1)[-1]) or item["url"]
                await anyio.to_thread.run_sync(self._fetch_url, item["url"], path)
            with path.open("rb") as f:
                media_type = detect(f.read(HEAD_BYTES))
            out.append(EngineInput(path=path, media_type=media_type, name=name))
        return out

    def _check_size(self, size: int, name: str) -> None:
        if size > self.max_bytes:
            raise InputRejected(
                f"input {name!r} is {size} bytes; the limit is {self.max_bytes} bytes "
                "(VLMFILES_MAX_INPUT_BYTES)"
            )

    async def _file(self, tenant_id: str, file_id: str, path: Path) -> str:
        rec = await self.files.get_file(tenant_id, file_id)
        if rec is None:
            raise EngineError(
                f"the input file {file_id} was deleted before the job ran; upload it again "
                "and submit a new prediction"
            )
        self._check_size(rec.bytes, rec.filename)
        data = await self.files.blob_data(rec.sha256)
        if data is not None:
            path.write_bytes(data)
            return rec.filename
        try:
            await anyio.to_thread.run_sync(_write_chunks, path, self.blobs.read(rec.sha256))
        except OSError as exc:  # the blob store (disk, S3) failed us: worth another attempt
            raise TransientInputError(f"reading file {file_id} failed: {exc}") from exc
        return rec.filename

    def _fetch_url(self, url: str, path: Path) -> None:
        timeouts = {"connect": self.timeout, "read": self.timeout, "pool": self.timeout}
        with httpcore.ConnectionPool(network_backend=GuardedBackend(self.allow_private)) as pool:
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    location = self._get(pool, url, path, timeouts)
                except httpcore.TimeoutException as exc:
                    raise TransientInputError(f"fetching {url[:200]} timed out: {exc}") from exc
                except httpcore.NetworkError as exc:
                    raise TransientInputError(f"fetching {url[:200]} failed: {exc}") from exc
                except httpcore.UnsupportedProtocol as exc:
                    raise InputRejected(f"cannot fetch {url[:200]}: {exc}") from exc
                if location is None:
                    return
                url = location
        raise InputRejected(f"the input URL redirected more than {MAX_REDIRECTS} times")

    def _get(
        self, pool: httpcore.ConnectionPool, url: str, path: Path, timeouts: dict[str, float]
    ) -> str | None:
        """Write the body to ``path``; or return a redirect's absolute location."""
        with pool.stream("GET", url, extensions={"timeout": timeouts}) as resp:
            if resp.status in (301, 302, 303, 307, 308):
                headers = dict((k.lower(), v) for k, v in resp.headers)
                target = headers.get(b"location", b"").decode("latin-1")
                nxt = urljoin(url, target)
                if urlsplit(nxt).scheme not in ("http", "https"):
                    raise InputRejected(f"the input URL redirected to {nxt[:200]!r}")
                return nxt
            if resp.status >= 500 or resp.status == 429:
                raise TransientInputError(f"fetching {url[:200]} answered HTTP {resp.status}")
            if resp.status >= 400:
                raise InputRejected(f"fetching {url[:200]} answered HTTP {resp.status}")
            size = 0
            with path.open("wb") as f:
                for chunk in resp.iter_stream():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise InputRejected(
                            f"the input URL's body is over the limit of {self.max_bytes} "
                            "bytes (VLMFILES_MAX_INPUT_BYTES)"
                        )
                    f.write(chunk)
            if size == 0:
                raise InputRejected(f"the input URL {url[:200]} returned no bytes")
        return None


def _write_chunks(path: Path, chunks: Iterator[bytes]) -> None:
    with path.open("wb") as f:
        for chunk in chunks:
            f.write(chunk)
