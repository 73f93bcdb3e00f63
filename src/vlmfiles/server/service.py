"""The file service: every operation of the API, between the HTTP handlers and the stores.

Handlers parse and shape; this module decides. It owns the upload commit protocol:

1. the body is staged and hashed (``ingest``);
2. the staged bytes are made durable in staging (``prepare``: fsync, or finishing the S3
   multipart upload), outside any lock;
3. ``MetadataStore.commit_upload`` locks the blob row, and either finds the tenant's
   existing record for these bytes and purpose (the staged copy is then dropped) or
   commits the bytes under their sha256 and inserts the record, in one transaction.

A failure at any step aborts the staged bytes: an upload leaves a complete file or nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import anyio

from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_for_status,
)
from .ingest import HashingSink, Staged, clean_filename, ingest_multipart, ingest_raw
from .metadata.store import FileRecord, MetadataStore, UploadRecord, now_us
from .security import UrlSigner, new_file_id
from .settings import Settings
from .sniff import DEFAULT_PURPOSE, JsonValidator, check_accepted, check_purpose, detect
from .storage import BlobStore

log = logging.getLogger("vlmfiles.server")

STALE_SECONDS = 3600


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class FileService:
    settings: Settings
    store: MetadataStore
    blobs: BlobStore
    signer: UrlSigner

    # Shaping ----------------------------------------------------------------------------

    def file_json(self, rec: FileRecord) -> dict[str, Any]:
        url, expires = self.signer.sign(
            "GET",
            f"/v1/files/{rec.id}/content",
            rec.tenant_id,
            rec.id,
            self.settings.url_expiry_seconds,
        )
        return {
            "id": rec.id,
            "object": "file",
            "filename": rec.filename,
            "bytes": rec.bytes,
            "purpose": rec.purpose,
            "created_at": iso(rec.created_us),
            "content_type": rec.content_type,
            "sha256": rec.sha256,
            "md5": rec.md5,
            "url": url,
            "public_url": url,
            "url_expires_at": iso(expires * 1_000_000),
        }

    def _validator_for(self, purpose: str | None) -> JsonValidator | None:
        if purpose == "fine-tune":
            return JsonValidator(self.settings.max_json_document_size)
        return None

    # Uploads ----------------------------------------------------------------------------

    async def upload_multipart(
        self,
        tenant_id: str,
        stream: AsyncIterator[bytes],
        content_type: str | None,
        purpose: str | None,
    ) -> tuple[FileRecord, bool]:
        if purpose is not None:
            check_purpose(purpose)

        def validator_for(fields: dict[str, str]) -> JsonValidator | None:
            return self._validator_for(purpose or fields.get("purpose"))

        staged = await ingest_multipart(
            stream, content_type, self.blobs, self.settings.max_file_size, validator_for
        )
        try:
            chosen = purpose or staged.fields.get("purpose") or DEFAULT_PURPOSE
            check_purpose(chosen)
            filename = staged.filename or clean_filename(staged.fields.get("filename")) or "file"
        except BaseException:
            await anyio.to_thread.run_sync(staged.writer.abort)
            raise
        return await self._commit(tenant_id, staged, chosen, filename, new_file_id())

    async def _commit(
        self, tenant_id: str, staged: Staged, purpose: str, filename: str, file_id: str
    ) -> tuple[FileRecord, bool]:
        writer = staged.writer
        try:
            if staged.size == 0:
                raise BadRequest("The file is empty (0 bytes); upload a file with content.")
            content_type = staged.json_type or detect(staged.head)
            check_accepted(purpose, content_type)
            prepare = getattr(writer, "prepare", None)
            if prepare is not None:  # the slow part of making bytes durable, outside the lock
                await anyio.to_thread.run_sync(prepare)
            rec = FileRecord(
                id=file_id,
                tenant_id=tenant_id,
                sha256=staged.sha256,
                md5=staged.md5,
                bytes=staged.size,
                purpose=purpose,
                filename=filename,
                content_type=content_type,
                created_us=now_us(),
            )
            result, created = await self.store.commit_upload(
                rec, lambda: writer.commit(staged.sha256)
            )
            if not created:
                await anyio.to_thread.run_sync(writer.abort)
            return result, created
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.abort)
            raise

    async def release_blob(self, sha256: str) -> bool:
        return await self.store.release_blob(sha256, self.blobs.delete)

    # Presigned uploads ------------------------------------------------------------------

    async def create_presigned_upload(
        self,
        tenant_id: str,
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
        upload_id = new_file_id()
        created = now_us()
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
        if self.direct_uploads:
            # Straight to the object store; verify-upload then hashes and commits it.
            url = await anyio.to_thread.run_sync(
                self.blobs.presign_put,
                upload_id,
                ttl,
                content_type,  # type: ignore[attr-defined]
            )
        else:
            url, _ = self.signer.sign("PUT", f"/v1/uploads/{upload_id}", tenant_id, upload_id, ttl)
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
    def direct_uploads(self) -> bool:
        """Whether presigned uploads go straight to the blob store (S3) or through us."""
        return hasattr(self.blobs, "presign_put")

    def check_signature(
        self, method: str, tenant_id: str, file_id: str, expires: str, signature: str
    ) -> None:
        reason = self.signer.verify(method, tenant_id, file_id, expires, signature)
        if reason is not None:
            raise Forbidden(f"This signed URL is not valid: {reason}. Ask for a new one.")

    async def receive_presigned(
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
                stream, self.blobs, self.settings.max_file_size, self._validator_for(upload.purpose)
            )
            rec, created = await self._commit(
                tenant_id, staged, upload.purpose, upload.filename, upload.id
            )
        except (UnsupportedMediaType, BadRequest) as refused:
            if not await self.store.fail_upload(upload.id, refused.status_code, refused.message):
                raise Conflict(f"Upload {upload_id!r} has already received its file.") from None
            return refused
        if not await self.store.complete_upload(upload.id, rec.id):
            # Two PUTs raced; the other one won. Ours de-duplicated to the same content or
            # created a second record: drop ours unless it is the same one.
            winner = await self.store.get_upload(tenant_id, upload_id)
            if created and winner is not None and winner.file_id != rec.id:
                await self.delete(tenant_id, rec.id)
            raise Conflict(f"Upload {upload_id!r} has already received its file.")
        return rec, created

    async def verify_upload(self, tenant_id: str, upload_id: str) -> FileRecord:
        upload = await self.store.get_upload(tenant_id, upload_id)
        if upload is None:
            raise NotFound(f"No upload {upload_id!r}.")
        if upload.error_status is not None:
            raise error_for_status(upload.error_status, upload.error_message or "Refused.")
        if upload.file_id is None and self.direct_uploads:
            size = await anyio.to_thread.run_sync(self.blobs.incoming_size, upload.id)  # type: ignore[attr-defined]
            if size is not None:
                return await self._adopt_incoming(upload, size)
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

    async def _adopt_incoming(self, upload: UploadRecord, size: int) -> FileRecord:
        """Hash an object PUT straight to the store, then commit it like any upload. A
        refusal is recorded, so asking again gives the same answer."""
        try:
            return await self._adopt_incoming_checked(upload, size)
        except (UnsupportedMediaType, BadRequest, PayloadTooLarge) as refused:
            await self.store.fail_upload(upload.id, refused.status_code, refused.message)
            raise

    async def _adopt_incoming_checked(self, upload: UploadRecord, size: int) -> FileRecord:
        if size > self.settings.max_file_size:
            await anyio.to_thread.run_sync(self.blobs.delete_incoming, upload.id)  # type: ignore[attr-defined]
            raise PayloadTooLarge(
                f"File too large: {size} bytes were uploaded and the limit is "
                f"{self.settings.max_file_size} bytes. The upload was discarded."
            )
        incoming = IncomingBlob(self.blobs, upload.id)
        sink = HashingSink(
            incoming, self.settings.max_file_size, self._validator_for(upload.purpose)
        )
        try:
            chunks = self.blobs.read_incoming(upload.id)  # type: ignore[attr-defined]
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
        rec, created = await self._commit(
            upload.tenant_id, staged, upload.purpose, upload.filename, upload.id
        )
        if not await self.store.complete_upload(upload.id, rec.id):
            winner = await self.store.get_upload(upload.tenant_id, upload.id)
            if winner is not None and winner.file_id is not None:
                found = await self.store.get_file(upload.tenant_id, winner.file_id)
                if found is not None:
                    return found
        return rec

    # Reads and deletes ------------------------------------------------------------------

    async def get(self, tenant_id: str, file_id: str) -> FileRecord:
        if not file_id:
            raise BadRequest("Expected a non-empty file id.")
        rec = await self.store.get_file(tenant_id, file_id)
        if rec is None:
            raise NotFound(f"No file with id {file_id!r}.")
        return rec

    async def list(
        self, tenant_id: str, *, purpose: str | None, skip: int, limit: int, after: str | None
    ) -> list[FileRecord]:
        if purpose is not None:
            check_purpose(purpose)
        cursor = None
        if after is not None:
            cursor = await self.store.get_file(tenant_id, after)
            if cursor is None:
                raise BadRequest(f"Cursor 'after' names no file of yours: {after!r}.")
        return await self.store.list_files(
            tenant_id, purpose=purpose, skip=skip, limit=limit, after=cursor
        )

    async def find_by_hash(self, tenant_id: str, digest: str, purpose: str | None) -> FileRecord:
        digest = digest.lower()
        if purpose is not None:
            check_purpose(purpose)
        if len(digest) not in (32, 64) or any(c not in "0123456789abcdef" for c in digest):
            raise BadRequest(
                "A content hash is 32 hex digits (md5) or 64 hex digits (sha256); "
                f"got {digest[:80]!r}."
            )
        if len(digest) == 32:
            rec = await self.store.find_by_hash(tenant_id, md5=digest, purpose=purpose)
        else:
            rec = await self.store.find_by_hash(tenant_id, sha256=digest, purpose=purpose)
        if rec is None:
            raise NotFound(f"No file of yours has content hash {digest}.")
        return rec

    async def delete(self, tenant_id: str, file_id: str) -> FileRecord:
        rec = await self.store.delete_file(tenant_id, file_id)
        if rec is None:
            raise NotFound(f"No file with id {file_id!r}.")
        try:
            await self.release_blob(rec.sha256)
        except Exception:  # the record is gone; the sweeper retries the blob later
            log.exception("could not release blob %s", rec.sha256)
        return rec

    def read(self, rec: FileRecord, start: int, end: int | None, verify: bool) -> Iterator[bytes]:
        """The file's bytes ``[start, end)``. A full read (``verify``) checks the sha256 as
        it goes and breaks off the response rather than end it with corrupt bytes."""
        chunks = self.blobs.read(rec.sha256, start, end)
        if not verify:
            yield from chunks
            return
        # The last chunk is held back until the hash is checked: a corrupt blob ends the
        # response short of its Content-Length, which every client treats as an error.
        h = hashlib.sha256()
        held: bytes | None = None
        for chunk in chunks:
            h.update(chunk)
            if held is not None:
                yield held
            held = chunk
        if h.hexdigest() != rec.sha256:
            log.error("blob %s is corrupt: its bytes hash to %s", rec.sha256, h.hexdigest())
            raise OSError(f"blob {rec.sha256} failed its integrity check")
        if held is not None:
            yield held

    # Maintenance ------------------------------------------------------------------------

    async def sweep(self, orphans: bool = False) -> dict[str, int]:
        """Remove what crashed or abandoned uploads left: staging, blobs no file references,
        expired presigned uploads; with ``orphans``, also stored bytes that no blob row
        knows (only safe while no other process is committing uploads: at start-up of the
        embedded server, and in ``fsck --repair``)."""
        staging = await anyio.to_thread.run_sync(self.blobs.sweep_staging, STALE_SECONDS)
        released = 0
        for sha in await self.store.unreferenced_blobs():
            released += await self.release_blob(sha)
        expired = await self.store.expired_uploads(now_us())
        for up in expired:
            if self.direct_uploads:
                await anyio.to_thread.run_sync(self.blobs.delete_incoming, up.id)  # type: ignore[attr-defined]
            await self.store.delete_upload(up.id)
        if self.direct_uploads:
            # Objects PUT to an upload URL and never verified (or PUT again after it was):
            # once every URL that could have written them has expired, they are garbage.
            await anyio.to_thread.run_sync(
                self.blobs.sweep_incoming,  # type: ignore[attr-defined]
                self.settings.max_upload_url_expiry_seconds + STALE_SECONDS,
            )
        removed = 0
        if orphans:
            known = {sha for sha, _, _ in await self.store.blob_rows()}
            stored = await anyio.to_thread.run_sync(lambda: set(self.blobs.keys()))
            for key in stored - known:
                await anyio.to_thread.run_sync(self.blobs.delete, key)
                removed += 1
        return {"staging": staging, "blobs": released, "uploads": len(expired), "orphans": removed}


class IncomingBlob:
    """A directly uploaded object seen as a staged blob: the hashing sink's writer (its
    bytes are already stored, so ``write`` does nothing), committed by a copy in the store."""

    def __init__(self, blobs: BlobStore, upload_id: str) -> None:
        self.blobs = blobs
        self.upload_id = upload_id

    def write(self, data: bytes) -> None:
        pass

    def commit(self, key: str) -> None:
        self.blobs.commit_incoming(self.upload_id, key)  # type: ignore[attr-defined]

    def abort(self) -> None:
        self.blobs.delete_incoming(self.upload_id)  # type: ignore[attr-defined]
