"""Uploads by URL (the official SDK's path for files over 32 MiB, and ``method="presigned-url"``).

``POST /v1/files/presigned-url`` makes an upload record and a URL to PUT the bytes to:

- embedded (local disk): our own ``PUT /v1/uploads/{id}``, HMAC-signed; the bytes stream
  through ``ingest`` and are committed like any upload;
- an object store that can presign (S3): straight to the store; ``verify-upload`` then
  reads the object back, hashes and checks it, and commits it by a server-side copy.

Either way a refusal (type, emptiness, size) is recorded on the upload and is what
``GET /v1/files/verify-upload/{id}`` answers, so the flow and its errors are the same on
every stack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio

from .._protocol import DEFAULT_PURPOSE
from .._units import human_bytes
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_for_status,
)
from .ingest import clean_filename, ingest_raw
from .metadata.records import iso
from .metadata.store import FileRecord, IdTaken, UploadRecord, now_us
from .security import new_file_id
from .sink import HashingSink
from .sniff import check_purpose
from .storage import PresignedBlobStore

if TYPE_CHECKING:
    from .service import FileService


class PresignedUploads:
    """Uploads by URL, for ``FileService`` (its ``presigned``): they end in its commit."""

    def __init__(self, files: FileService) -> None:
        self.files = files
        self.settings = files.settings
        self.store = files.store
        self.blobs = files.blobs
        self.signer = files.signer

    async def create(
        self,
        tenant_id: str,
        key_id: str,
        filename: str,
        purpose: str | None,
        expiration: int | None,
        content_type: str | None,
    ) -> dict[str, Any]:
        purpose = check_purpose(purpose or DEFAULT_PURPOSE)
        name = clean_filename(filename)
        if name is None:
            raise BadRequest("filename must be a non-empty file name (not '.', '..' or a path).")
        ttl = expiration if expiration is not None else 3600
        limit = self.settings.max_upload_url_expiry_seconds
        if not 1 <= ttl <= limit:
            raise BadRequest(f"expiration must be between 1 and {limit} seconds; got {ttl}.")
        created = now_us()
        upload_id = new_file_id(created)  # the upload's file will have this id
        ctype = content_type or "application/octet-stream"
        await self.store.create_upload(
            UploadRecord(
                id=upload_id,
                tenant_id=tenant_id,
                filename=name,
                purpose=purpose,
                content_type=ctype,
                created_us=created,
                expires_us=created + ttl * 1_000_000,
                file_id=None,
            )
        )
        if self.direct is not None:
            # Straight to the object store; verify-upload then hashes and commits it.
            url = await anyio.to_thread.run_sync(
                self.direct.presign_put, upload_id, ttl, content_type
            )
        else:
            path = f"/v1/uploads/{upload_id}"
            url, _ = self.signer.sign("PUT", path, tenant_id, key_id, upload_id, ttl)
        return {
            "id": upload_id,
            "url": url,
            "filename": name,
            "purpose": purpose,
            "content_type": ctype,
            "upload_method": "PUT",
            "method": "PUT",
            "public_url": None,
            "created_at": iso(created),
            "expiration": ttl,
        }

    @property
    def direct(self) -> PresignedBlobStore | None:
        """The blob store, if presigned uploads go straight to it (S3), else None: through
        our own ``PUT /v1/uploads/{id}``."""
        return self.blobs if isinstance(self.blobs, PresignedBlobStore) else None

    async def receive(
        self, tenant_id: str, upload_id: str, stream: AsyncIterator[bytes]
    ) -> tuple[FileRecord, bool] | ApiError:
        """Take the bytes PUT to an upload URL. A body over the size limit is refused
        here (413). Bytes of a type the purpose does not take, or none, are *accepted* and
        the verdict kept for verify-upload, as an object store would (it takes any PUT, and
        the verification refuses): the same flow, and the same errors, on every stack.
        Returns the file, or the refusal verify-upload will give."""
        upload = await self.store.get_upload(tenant_id, upload_id)
        if upload is None:
            raise NotFound(f"No upload {upload_id!r}.")
        if upload.file_id is not None or upload.error_status is not None:
            raise Conflict(f"Upload {upload_id!r} has already received its file.")
        try:
            staged = await ingest_raw(
                stream,
                self.blobs,
                self.settings.max_file_size,
                self.files.validator_for(upload.purpose),
                self.settings.inline_max_bytes,
            )
            rec, created = await self.files.commit(
                tenant_id, staged, upload.purpose, upload.filename, upload.id
            )
        except IdTaken:  # another PUT of other bytes to this URL committed first
            raise Conflict(f"Upload {upload_id!r} has already received its file.") from None
        except (UnsupportedMediaType, BadRequest) as refused:
            if not await self.store.fail_upload(upload.id, refused.status_code, refused.message):
                raise Conflict(f"Upload {upload_id!r} has already received its file.") from None
            return refused
        if not await self.store.complete_upload(upload.id, rec.id):
            # Two PUTs raced; the other one won. Ours de-duplicated to the same content or
            # created a second record: drop ours unless it is the same one.
            winner = await self.store.get_upload(tenant_id, upload_id)
            if created and winner is not None and winner.file_id != rec.id:
                await self.files.delete(tenant_id, rec.id)
            raise Conflict(f"Upload {upload_id!r} has already received its file.")
        return rec, created

    async def verify(self, tenant_id: str, upload_id: str) -> FileRecord:
        upload = await self.store.get_upload(tenant_id, upload_id)
        if upload is None:
            raise NotFound(f"No upload {upload_id!r}.")
        if upload.error_status is not None:
            raise error_for_status(upload.error_status, upload.error_message or "Refused.")
        if upload.file_id is None and self.direct is not None:
            size = await anyio.to_thread.run_sync(self.direct.incoming_size, upload.id)
            if size is not None:
                return await self._adopt_incoming(self.direct, upload, size)
        if upload.file_id is None:
            if upload.expires_us < now_us():
                raise NotFound(f"Upload {upload_id!r} expired before any bytes were sent.")
            raise Conflict(
                f"Upload {upload_id!r} has not received its bytes yet: PUT them to the "
                "presigned URL first."
            )
        rec = await self.store.get_file(tenant_id, upload.file_id)
        if rec is None:
            raise NotFound(f"The file of upload {upload_id!r} has since been deleted.")
        return rec

    async def _adopt_incoming(
        self, store: PresignedBlobStore, upload: UploadRecord, size: int
    ) -> FileRecord:
        """Hash an object PUT straight to the store, then commit it like any upload. A
        refusal is recorded, so asking again gives the same answer."""
        try:
            return await self._adopt_incoming_checked(store, upload, size)
        except (UnsupportedMediaType, BadRequest, PayloadTooLarge) as refused:
            await self.store.fail_upload(upload.id, refused.status_code, refused.message)
            raise

    async def _adopt_incoming_checked(
        self, store: PresignedBlobStore, upload: UploadRecord, size: int
    ) -> FileRecord:
        if size > self.settings.max_file_size:
            await anyio.to_thread.run_sync(store.delete_incoming, upload.id)
            raise PayloadTooLarge(
                f"File too large: the file is {human_bytes(size)} and this server's limit is "
                f"{human_bytes(self.settings.max_file_size)} per file. The upload was discarded."
            )
        incoming = IncomingBlob(store, upload.id)
        sink = HashingSink(
            incoming,
            self.settings.max_file_size,
            self.files.validator_for(upload.purpose),
            defer_md5=False,  # the object is read back from S3 here anyway
        )
        try:
            chunks = store.read_incoming(upload.id)
            while True:
                chunk = await anyio.to_thread.run_sync(next, chunks, None)
                if chunk is None:
                    break
                sink.add(chunk)
                if sink.ready:
                    await sink.flush()
            staged = await sink.finish(None, {})
        except BaseException:
            await sink.abort()
            raise
        try:
            rec, created = await self.files.commit(
                upload.tenant_id, staged, upload.purpose, upload.filename, upload.id
            )
        except IdTaken:  # a concurrent verify-upload committed it first
            found = await self.store.get_file(upload.tenant_id, upload.id)
            if found is None:
                raise Conflict(f"Upload {upload.id!r} was committed and since deleted.") from None
            return found
        if not await self.store.complete_upload(upload.id, rec.id):
            winner = await self.store.get_upload(upload.tenant_id, upload.id)
            if winner is not None and winner.file_id is not None:
                found = await self.store.get_file(upload.tenant_id, winner.file_id)
                if found is not None:
                    return found
        return rec


class IncomingBlob:
    """A directly uploaded object seen as a staged blob: the hashing sink's writer (its
    bytes are already stored, so ``write`` does nothing), committed by a copy in the store."""

    def __init__(self, blobs: PresignedBlobStore, upload_id: str) -> None:
        self.blobs = blobs
        self.upload_id = upload_id

    prepared = True  # already stored by the object store

    def prepare(self) -> None:
        pass

    def expect(self, key: str) -> None:
        pass

    def write(self, data: bytes) -> None:
        pass

    def commit(self, key: str) -> None:
        self.blobs.commit_incoming(self.upload_id, key)

    def abort(self) -> None:
        self.blobs.delete_incoming(self.upload_id)
