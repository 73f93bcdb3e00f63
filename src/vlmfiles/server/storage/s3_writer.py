"""Writing one blob to an S3 store: parts buffered in memory, sent while the next fills.

A writer buffers one part (8 MiB by default) and sends each full part as a multipart-upload
part from a background thread while the next one fills; at most ``parts_in_flight`` parts
of one writer are on the wire at once. A body smaller than one part is a single PutObject
straight to its final key at commit. A multipart body is completed under staging/ and then
copied server-side to blobs/<sha256>: the final key is only known once every byte has been
hashed, and S3 cannot rename. Unless the client declared the sha256 before the bytes
(``expect``): the multipart upload is then opened under blobs/<sha256> itself, which is
safe because S3 shows nothing of a multipart upload until it is completed, and completed
only once the bytes are known to hash to that key. That saves the copy, a server-side read
and write of every byte.

Memory: each writer holds up to ``1 + parts_in_flight`` parts, so 64 concurrent large
uploads would hold about 1.5 GiB. A store-wide ``PartBudget`` caps the bytes of parts held
by all writers together: a writer that needs a new part's worth of memory waits for one
(its caller's queue fills, the server stops reading that socket, TCP pushes back on the
client) and gives up with ``StoreBusy`` (503, retry) if none frees in time.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .base import StoreBusy

if TYPE_CHECKING:
    from .s3 import S3BlobStore

MAX_PARTS = 10_000  # S3's limit per multipart upload
# A buffer below this needs no share of the budget: small files (most uploads) never wait
# behind large ones. It bounds the unbudgeted memory to this much per concurrent upload.
UNBUDGETED = 1024 * 1024


class PartBudget:
    """Bytes of part buffers that all writers of one store may hold at once.

    Deadlock-free because a writer only ever waits while holding no unsent part: the parts
    it holds are either on the wire (they finish by themselves and give their bytes back)
    or the one it is filling, which needs no more budget until it is full and sent."""

    def __init__(self, limit: int, wait_seconds: float = 60.0) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.held = 0
        self.peak = 0
        self._cond = threading.Condition()

    def acquire(self, n: int) -> None:
        n = min(n, self.limit)  # a part larger than the whole budget waits for all of it
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            while self.held + n > self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreBusy(
                        f"no memory for an upload part for {self.wait_seconds:.0f} s "
                        f"({self.held} of {self.limit} bytes held by other uploads)"
                    )
                self._cond.wait(left)
            self.held += n
            self.peak = max(self.peak, self.held)

    def release(self, n: int) -> None:
        n = min(n, self.limit)
        with self._cond:
            self.held -= n
            self._cond.notify_all()


_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


def missing(e: ClientError) -> bool:
    """The error says the object (or multipart upload) is not there."""
    return e.response.get("Error", {}).get("Code") in _NOT_FOUND


def _exists_already(e: ClientError) -> bool:
    """A conditional PUT (If-None-Match: *) refused because the key exists."""
    return e.response.get("Error", {}).get("Code") in ("412", "PreconditionFailed")


class S3BlobWriter:
    def __init__(self, store: S3BlobStore) -> None:
        self._store = store
        self.key = f"{store.prefix}staging/{os.getpid()}-{uuid.uuid4().hex}"
        self._buf = bytearray()
        self._reserved = 0  # budget held for the part being filled
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._inflight: deque[Future[None]] = deque()
        self._done = False
        self._expected: str | None = None  # a declared sha256: staging under its final key
        self._staged_object = False  # a completed object under a staging key (to delete)

    # Completing the upload is the commit's work (into its final key): nothing to prepare.
    prepared = True

    def prepare(self) -> None:
        pass

    def expect(self, key: str) -> None:
        """The bytes are declared to hash to ``key``: stage them under its final name."""
        if self._upload_id is None and not self._buf:  # before any byte
            self.key = self._store.blob_key(key)
            self._expected = key

    def _part_size(self) -> int:
        # Grow parts every 1,000 so 10,000 parts always suffice (8 MiB parts alone would
        # stop at 78 GiB); memory grows with the blob only past 8 GiB.
        return self._store.part_size * (1 + len(self._parts) // 1000)

    def write(self, data: bytes) -> None:
        if not self._reserved and len(self._buf) + len(data) > UNBUDGETED:
            self._reserve()  # past the small-file allowance: this buffer becomes a part
        self._buf += data
        while len(self._buf) >= (size := self._part_size()):
            # Hand the buffer itself to the sender (no copy of the part); keep the tail.
            part, self._buf = self._buf, self._buf[size:]
            del part[size:]
            reserved, self._reserved = self._reserved, 0
            self._send(part, reserved)
            if len(self._buf) > UNBUDGETED:
                self._reserve()

    def _reserve(self) -> None:
        size = self._part_size()
        self._store.budget.acquire(size)
        self._reserved = size  # only once acquired: abort gives back what is held

    def _send(self, part: bytearray, reserved: int) -> None:
        s = self._store
        try:
            # A few parts in flight: the store answers each part slowly (it writes it before
            # it answers), so uploads overlap; a bounded number keeps memory bounded.
            while len(self._inflight) >= s.parts_in_flight:
                self._inflight.popleft().result()
            if self._upload_id is None:
                self._upload_id = s.client.create_multipart_upload(Bucket=s.bucket, Key=self.key)[
                    "UploadId"
                ]
            if len(self._parts) >= MAX_PARTS:
                raise OSError(f"blob too large: more than {MAX_PARTS} parts")
        except BaseException:
            s.budget.release(reserved)
            raise
        entry: dict[str, Any] = {"PartNumber": len(self._parts) + 1}
        self._parts.append(entry)
        upload_id = self._upload_id

        def upload() -> None:
            try:
                r = s.client.upload_part(
                    Bucket=s.bucket,
                    Key=self.key,
                    UploadId=upload_id,
                    PartNumber=entry["PartNumber"],
                    Body=part,
                )
                entry["ETag"] = r["ETag"]
            finally:
                s.budget.release(reserved)

        try:
            self._inflight.append(s.pool.submit(upload))
        except BaseException:  # the pool is shut down: the part never left
            s.budget.release(reserved)
            raise

    def _wait(self) -> None:
        while self._inflight:
            self._inflight.popleft().result()

    def _drop_buffer(self) -> None:
        self._buf = bytearray()
        if self._reserved:
            self._store.budget.release(self._reserved)
            self._reserved = 0

    def commit(self, key: str) -> None:
        s = self._store
        final = s.blob_key(key)
        if self._expected is not None and self._expected != key:
            self.abort()  # never complete bytes under a key they do not hash to
            raise ValueError(f"staged for blob {self._expected}, but the bytes hash to {key}")
        try:
            if self._upload_id is None:
                # Under one part: no staging at all, one PutObject to the final key. S3 shows
                # an object whole or not at all. If-None-Match keeps an existing blob of
                # this key (the same bytes) untouched without a HEAD first: one request, not
                # two, for a small upload (each boto3 request costs CPU). A store
                # that ignores the condition rewrites the same bytes.
                try:
                    s.client.put_object(Bucket=s.bucket, Key=final, Body=self._buf, IfNoneMatch="*")
                except ClientError as e:
                    if not _exists_already(e):
                        raise
                self._drop_buffer()
            elif s.head(final):  # same key, same bytes: keep the original, drop ours
                self.abort()
                return
            else:
                if self._buf:
                    part, self._buf = self._buf, bytearray()
                    reserved, self._reserved = self._reserved, 0
                    self._send(part, reserved)
                self._wait()
                s.client.complete_multipart_upload(
                    Bucket=s.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self._upload_id = None
                if self.key != final:
                    self._staged_object = True
                    s.adopt(self.key, final)
        except BaseException:
            self.abort()
            raise
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._drop_buffer()
        s = self._store
        try:
            self._wait()
        except Exception:  # noqa: S110 - the part failed; the upload is discarded anyway
            pass
        if self._upload_id is not None:
            try:
                s.client.abort_multipart_upload(
                    Bucket=s.bucket, Key=self.key, UploadId=self._upload_id
                )
            except ClientError as e:
                if not missing(e):
                    raise
        if self._staged_object:
            # Completed but not yet copied (commit failed half-way): the object itself.
            # (Under a final key, a completed object is a committed blob: never deleted here.)
            s.client.delete_object(Bucket=s.bucket, Key=self.key)
