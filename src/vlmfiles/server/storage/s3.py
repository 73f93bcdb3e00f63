"""Blobs in an S3-compatible object store (SeaweedFS, MinIO, Ceph RGW, AWS S3).

URL: ``s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=us-east-1`` with options
``create_bucket=true``, ``public_endpoint=URL`` (used only to sign presigned URLs, for
when clients reach the store at another address than the server does),
``path_style=true|false`` (default: true when an endpoint is given), ``part_size_mb=8``,
``parts_in_flight=2``, ``buffer_mb=128`` (memory for parts, all uploads together) and
``max_connections=64``. Credentials come from boto3's usual chain (the
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` variables, a profile, an instance role),
never from the URL, which ends up in logs.

Key layout under PREFIX::

    blobs/<sha256>           committed blobs
    staging/<pid>-<uuid>     a writer's staged object or multipart upload
    incoming/<upload_id>     bytes a client PUT to a presigned URL, not yet adopted

Writing a blob (parts, the store-wide memory budget, the commit) is in ``s3_writer``.

Staging names carry the PID like the local store's, but a bucket is shared by many hosts,
so the sweep goes by age: a staged object older than the cutoff, or a multipart upload
whose newest part (or initiation) is older than it, belongs to a dead writer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from .base import BlobNotFound
from .s3_writer import PartBudget, S3BlobWriter, missing

MiB = 1024 * 1024
CHUNK = MiB
MAX_SINGLE_COPY = 5 * 1024 * MiB  # CopyObject's limit; above it boto3 copies by parts
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# What a connection dropped in the middle of a GET body looks like from botocore.
_STREAM_ERRORS = (ResponseStreamingError, ReadTimeoutError, IncompleteReadError, ProtocolError)
_OPTIONS = set(
    "endpoint region create_bucket public_endpoint path_style part_size_mb max_connections "
    "parts_in_flight buffer_mb".split()
)


def _close(body: Any) -> None:
    if hasattr(body, "close"):
        body.close()


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    # Keys become object names: nothing but the expected characters may reach them.
    if not pattern.fullmatch(value):
        raise ValueError(f"{what}, got {value!r}")
    return value


# Storage URL options that tune the store: option -> (constructor argument, unit).
_TUNING = {
    "part_size_mb": ("part_size", MiB),
    "buffer_mb": ("buffer_size", MiB),
    "max_connections": ("max_connections", 1),
    "parts_in_flight": ("parts_in_flight", 1),
}


def _number(query: dict[str, str], name: str, unit: int) -> int:
    value = query[name]
    try:
        number = int(float(value) * unit) if unit == MiB else int(value)
    except (ValueError, OverflowError):  # not a number, or infinite
        number = 0
    if number < 1:
        kind = "a number of MiB above 0" if unit == MiB else "a whole number of at least 1"
        raise ValueError(f"storage URL option {name}={value!r}: use {kind}")
    return number


def _flag(query: dict[str, str], name: str) -> bool | None:
    value = query.get(name, "").lower()
    if value in ("", "1", "true", "0", "false"):
        return None if not value else value in ("1", "true")
    raise ValueError(f"storage URL option {name}={value!r}: use true or false")


class S3BlobStore:
    # A writer told the sha256 before the bytes (``expect``) writes them under their final
    # key; told after, it must copy them there at commit. /health passes this on to the SDK.
    wants_sha256_first = True

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        public_endpoint: str | None = None,
        path_style: bool | None = None,
        part_size: int = 8 * MiB,
        max_connections: int = 64,
        parts_in_flight: int = 2,
        buffer_size: int = 128 * MiB,
        create_bucket: bool = False,
    ) -> None:
        if part_size < 5 * MiB:
            raise ValueError(
                "part size must be at least 5 MiB (S3's smallest multipart part): "
                "storage URL option part_size_mb=5 or more"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.parts_in_flight = max(1, parts_in_flight)
        if buffer_size < part_size:
            raise ValueError("buffer_mb must hold at least one part (part_size_mb)")
        self.budget = PartBudget(buffer_size)
        if path_style is None:  # S3-compatible stores rarely have wildcard DNS per bucket
            path_style = endpoint is not None
        config = Config(
            signature_version="s3v4",
            max_pool_connections=max_connections,
            connect_timeout=10,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 5},
            s3={"addressing_style": "path" if path_style else "auto"},
            # Checksums only where S3 requires them: boto3 >= 1.36 otherwise sends
            # aws-chunked CRC32 bodies, which several S3-compatible stores refuse, and it
            # would bind presigned URLs to a checksum the client cannot know.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # One session per store, clients shared by every thread (clients are thread-safe,
        # sessions are not).
        session = boto3.session.Session()
        self.client = session.client("s3", endpoint_url=endpoint, region_name=region, config=config)
        self._presigner = (
            session.client("s3", endpoint_url=public_endpoint, region_name=region, config=config)
            if public_endpoint
            else self.client
        )
        # Background part uploads; one per writer at a time, so this bounds concurrency only.
        self.pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="s3-part")
        if create_bucket:
            self._create_bucket(region)

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an S3 storage URL: {url!r}; use s3://BUCKET[/PREFIX]?...")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = set(query) - _OPTIONS
        if unknown:
            raise ValueError(
                f"unknown storage URL option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}"
            )
        # Only the options the URL gives: the defaults live in __init__ alone.
        tuning = {
            arg: _number(query, option, unit)
            for option, (arg, unit) in _TUNING.items()
            if option in query
        }
        return cls(
            parts.netloc,
            parts.path,
            endpoint=query.get("endpoint") or None,
            region=query.get("region") or None,
            public_endpoint=query.get("public_endpoint") or None,
            path_style=_flag(query, "path_style"),
            create_bucket=bool(_flag(query, "create_bucket")),
            **tuning,
        )

    def _create_bucket(self, region: str | None) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as e:
            if not missing(e) and e.response["Error"]["Code"] != "NoSuchBucket":
                raise
        kw: dict[str, Any] = {}
        if region and region != "us-east-1":  # AWS refuses us-east-1 as a constraint
            kw["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **kw)
        except ClientError as e:  # another process created it first
            if e.response["Error"]["Code"] not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise

    def close(self) -> None:
        """Release the part-upload threads and the connection pools."""
        self.pool.shutdown(wait=True)
        self.client.close()
        if self._presigner is not self.client:
            self._presigner.close()

    # Keys ------------------------------------------------------------------------------

    def blob_key(self, key: str) -> str:
        return f"{self.prefix}blobs/{_checked(_SHA256, key, 'blob keys are sha256 hex digests')}"

    def incoming_key(self, upload_id: str) -> str:
        what = "upload ids are 1-128 letters, digits, '_' and '-'"
        return f"{self.prefix}incoming/{_checked(_UPLOAD_ID, upload_id, what)}"

    # Object-level helpers, for this store and its writers (s3_writer.py) -----------------

    def head(self, s3_key: str) -> dict[str, Any] | None:
        """The object's metadata, or None if there is no such object."""
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=s3_key)
            return head
        except ClientError as e:
            if missing(e):
                return None
            raise

    def adopt(self, source: str, final: str) -> None:
        """Copy ``source`` to ``final`` unless ``final`` exists (same key, same bytes), then
        delete ``source``."""
        if not self.head(final):
            self.client.copy(
                {"Bucket": self.bucket, "Key": source},
                self.bucket,
                final,
                Config=TransferConfig(
                    multipart_threshold=MAX_SINGLE_COPY, multipart_chunksize=512 * MiB
                ),
            )
        self.client.delete_object(Bucket=self.bucket, Key=source)

    # The BlobStore protocol ----------------------------------------------------------------

    def writer(self) -> S3BlobWriter:
        return S3BlobWriter(self)

    def exists(self, key: str) -> bool:
        return self.head(self.blob_key(key)) is not None

    def size(self, key: str) -> int | None:
        head = self.head(self.blob_key(key))
        return None if head is None else head["ContentLength"]

    def read_once(self, key: str) -> Iterator[bytes]:
        return self.read(key)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        s3_key = self.blob_key(key)
        if end is not None and end <= start:
            if not self.exists(key):
                raise BlobNotFound(key)
            return iter(())
        # The first request is made now, so a missing blob raises here and not at the
        # first next() (the caller may already have sent its response headers by then).
        first = self._get(s3_key, start, end)
        if first is None:
            raise BlobNotFound(key)
        return self._stream(s3_key, first, start, end)

    def _get(self, s3_key: str, start: int, end: int | None) -> Any:
        kw: dict[str, Any] = {}
        if start or end is not None:
            kw["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            return self.client.get_object(Bucket=self.bucket, Key=s3_key, **kw)["Body"]
        except ClientError as e:
            if missing(e):
                return None
            if e.response["Error"]["Code"] == "InvalidRange":  # start at or past the end
                return iter(())
            raise

    def _stream(self, s3_key: str, body: Any, start: int, end: int | None) -> Iterator[bytes]:
        # A reader that stalls (a slow HTTP client) can outlive the store's idle timeout;
        # a dropped connection resumes with a ranged GET from where it stopped.
        pos, retries = start, 3
        try:
            while True:
                try:
                    for chunk in body.iter_chunks(CHUNK) if hasattr(body, "iter_chunks") else body:
                        pos += len(chunk)
                        yield chunk
                    return
                except _STREAM_ERRORS as e:
                    retries -= 1
                    if retries < 0:
                        raise OSError(f"reading s3://{self.bucket}/{s3_key} failed at {pos}") from e
                    _close(body)
                    body = self._get(s3_key, pos, end)
                    if body is None:
                        raise BlobNotFound(s3_key.rsplit("/", 1)[-1]) from e
        finally:
            _close(body)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.blob_key(key))

    def _list(self, sub: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + sub
        )
        for page in pages:
            yield from page.get("Contents", [])

    def _uploads(self, sub: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.prefix + sub
        )
        for page in pages:
            yield from page.get("Uploads", [])

    def keys(self) -> Iterator[str]:
        for obj in self._list("blobs/"):
            name = obj["Key"].rsplit("/", 1)[-1]
            if _SHA256.fullmatch(name):
                yield name

    def staging_entries(self) -> Iterator[str]:
        """Staged objects and unfinished multipart uploads, including those opened under a
        final key for a declared sha256 (for tests and fsck)."""
        for obj in self._list("staging/"):
            yield obj["Key"]
        for sub in ("staging/", "blobs/"):
            for up in self._uploads(sub):
                yield f"{up['Key']} (multipart {up['UploadId']})"

    def sweep_staging(self, older_than_seconds: float) -> int:
        return self._sweep("staging/", older_than_seconds) + self._sweep(
            "blobs/", older_than_seconds, objects=False
        )

    def _sweep(self, sub: str, older_than_seconds: float, objects: bool = True) -> int:
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=older_than_seconds)
        removed = 0
        for obj in list(self._list(sub)) if objects else []:
            if obj["LastModified"] < cutoff:
                self.client.delete_object(Bucket=self.bucket, Key=obj["Key"])
                removed += 1
        for up in list(self._uploads(sub)):
            if up["Initiated"] >= cutoff or self._last_part(up) >= cutoff:
                continue  # a live writer, or one that died too recently to tell
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
                )
                removed += 1
            except ClientError as e:
                if not missing(e):  # it completed or was aborted meanwhile
                    raise
        return removed

    def _last_part(self, up: dict[str, Any]) -> dt.datetime:
        """When the upload last received a part: a slow but live writer keeps adding them."""
        newest: dt.datetime = up["Initiated"]
        try:
            pages = self.client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
            )
            for page in pages:
                for part in page.get("Parts", []):
                    newest = max(newest, part["LastModified"])
        except ClientError as e:
            if not missing(e):
                raise
        return newest

    # Presigned uploads straight to the store (base.PresignedBlobStore) ----------------------

    def presign_put(self, upload_id: str, expires_seconds: int, content_type: str | None) -> str:
        """A URL a client PUTs the file's bytes to, without credentials.

        ``content_type`` is deliberately not signed: a signed Content-Type refuses every
        client that sends another one or none (plain ``curl -T``, httpx with bytes), and
        the server judges the type from the bytes anyway."""
        del content_type
        url: str = self._presigner.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": self.incoming_key(upload_id)},
            ExpiresIn=int(expires_seconds),
            HttpMethod="PUT",
        )
        return url

    def incoming_size(self, upload_id: str) -> int | None:
        head = self.head(self.incoming_key(upload_id))
        return None if head is None else head["ContentLength"]

    def read_incoming(self, upload_id: str) -> Iterator[bytes]:
        s3_key = self.incoming_key(upload_id)
        first = self._get(s3_key, 0, None)
        if first is None:
            raise BlobNotFound(upload_id)
        return self._stream(s3_key, first, 0, None)

    def commit_incoming(self, upload_id: str, key: str) -> None:
        self.adopt(self.incoming_key(upload_id), self.blob_key(key))

    def delete_incoming(self, upload_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.incoming_key(upload_id))

    def sweep_incoming(self, older_than_seconds: float) -> int:
        return self._sweep("incoming/", older_than_seconds)
