"""The file service: every operation of the API, between the HTTP handlers and the stores.

Handlers parse and shape; this module decides. It owns the upload commit protocol:

1. the body is read (``ingest``) into a sink that hashes and stages it (``sink``);
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
from dataclasses import dataclass, field
from typing import Any

import anyio

from .._protocol import DEFAULT_PURPOSE
from .errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
)
from .ingest import clean_filename, declared_sha256, ingest_multipart
from .jsoncheck import JsonValidator
from .md5 import Md5Filler
from .metadata.records import iso
from .metadata.store import FileRecord, MetadataStore, now_us
from .presigned import PresignedUploads
from .security import UrlSigner, file_id_time, new_file_id
from .settings import INLINE_MAX_CEILING, Settings
from .sink import Staged
from .sniff import check_accepted, check_purpose, detect
from .storage import BlobStore, is_hex_digest

log = logging.getLogger("vlmfiles.server")

STALE_SECONDS = 3600


@dataclass
class FileService:
    settings: Settings
    store: MetadataStore
    blobs: BlobStore
    signer: UrlSigner
    md5: Md5Filler = field(init=False)
    presigned: PresignedUploads = field(init=False)

    def __post_init__(self) -> None:
        self.md5 = Md5Filler(self.store, self.blobs)
        self.presigned = PresignedUploads(self)

    # Shaping ----------------------------------------------------------------------------

    def file_json(self, rec: FileRecord, key_id: str) -> dict[str, Any]:
        """The API's JSON for ``rec``; its URL valid while the API key ``key_id`` is."""
        url, expires = self.signer.sign(
            "GET",
            f"/v1/files/{rec.id}/content",
            rec.tenant_id,
            key_id,
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

    def validator_for(self, purpose: str | None) -> JsonValidator | None:
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
        key_hash: str | None = None,
    ) -> tuple[FileRecord, bool]:
        """Receive, check and commit a multipart upload. ``key_hash``: the API key the
        commit checks again (``MetadataStore.commit_upload``)."""
        if purpose is not None:
            check_purpose(purpose)

        def validator_for(fields: dict[str, str]) -> JsonValidator | None:
            # No purpose yet (curl sends ``-F`` fields in the order given, the file often
            # first): validate in case it is fine-tune; non-JSON bytes stop it at once.
            return self.validator_for(purpose or fields.get("purpose") or "fine-tune")

        staged = await ingest_multipart(
            stream,
            content_type,
            self.blobs,
            self.settings.max_file_size,
            validator_for,
            self.settings.inline_max_bytes,
        )
        try:
            declared = declared_sha256(staged.fields)
            if declared is not None and declared != staged.sha256:
                raise BadRequest(
                    f"The file's bytes do not match the sha256 sent with them: they hash to "
                    f"{staged.sha256}, not {declared}. The file changed or was damaged on the "
                    "way; nothing was stored. Hash it again and retry."
                )
            chosen = purpose or staged.fields.get("purpose") or DEFAULT_PURPOSE
            check_purpose(chosen)
            filename = staged.filename or clean_filename(staged.fields.get("filename")) or "file"
        except BaseException:
            await staged.discard()
            raise
        return await self.commit(
            tenant_id, staged, chosen, filename, new_file_id(now_us()), key_hash
        )

    async def commit(
        self,
        tenant_id: str,
        staged: Staged,
        purpose: str,
        filename: str,
        file_id: str,
        key_hash: str | None = None,
    ) -> tuple[FileRecord, bool]:
        writer = staged.writer
        try:
            if staged.size == 0:
                raise BadRequest("The file is empty (0 bytes); upload a file with content.")
            content_type = await staged.json_type(purpose) or detect(staged.head)
            check_accepted(purpose, content_type)
            rec = FileRecord(
                id=file_id,
                tenant_id=tenant_id,
                sha256=staged.sha256,
                md5=staged.md5,
                bytes=staged.size,
                purpose=purpose,
                filename=filename,
                content_type=content_type,
                created_us=file_id_time(file_id) or now_us(),  # the id carries the sort key
            )
            if writer is None:  # a small file: its bytes go in the database, with its record
                result, created = await self.store.commit_upload(
                    rec, data=staged.data, key_hash=key_hash
                )
            else:
                if not writer.prepared:
                    # The slow part of making bytes durable, outside the lock (a one-batch
                    # body was prepared in the sink's hop already).
                    await anyio.to_thread.run_sync(writer.prepare)
                result, created = await self.store.commit_upload(
                    rec, lambda: writer.commit(staged.sha256), key_hash=key_hash
                )
            if not created:
                await staged.discard()
            elif result.md5 is None:
                self.md5.schedule(result.sha256)
            return result, created
        except BaseException:
            with anyio.CancelScope(shield=True):
                await staged.discard()
            raise

    async def release_blob(self, sha256: str) -> bool:
        return await self.store.release_blob(sha256, self.blobs.delete)

    # Reads and deletes ------------------------------------------------------------------

    async def check_signature(
        self, method: str, tenant_id: str, key_id: str, file_id: str, expires: str, signature: str
    ) -> None:
        """Refuse (403) a signed URL that is forged, expired, or whose API key is revoked
        (or its tenant gone): a URL lives no longer than the key that asked for it."""
        reason = self.signer.verify(method, tenant_id, key_id, file_id, expires, signature)
        if reason is None and not await self.store.key_is_live(tenant_id, key_id):
            reason = "the API key it was made with has been revoked"
        if reason is not None:
            raise Forbidden(f"This signed URL is not valid: {reason}. Ask for a new one.")

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
        if limit > self.settings.list_max_limit:
            raise BadRequest(
                f"limit must be between 1 and {self.settings.list_max_limit}; got {limit}."
            )
        cursor = None
        if after is not None:
            created = file_id_time(after)  # the id carries its sort key: its file may be gone
            if created is not None:
                cursor = (created, after)
            else:  # an id of the older shape names its place only while its file exists
                rec = await self.store.get_file(tenant_id, after)
                if rec is None:
                    raise BadRequest(
                        f"Cursor 'after' must be the id of a file from the previous page; "
                        f"{after!r} names no file of yours."
                    )
                cursor = (rec.created_us, rec.id)
        return await self.store.list_files(
            tenant_id, purpose=purpose, skip=skip, limit=limit, after=cursor
        )

    async def find_by_hash(self, tenant_id: str, digest: str, purpose: str | None) -> FileRecord:
        digest = digest.lower()
        if purpose is not None:
            check_purpose(purpose)
        if not is_hex_digest(digest, 32, 64):
            raise BadRequest(
                "A content hash is 32 hex digits (md5) or 64 hex digits (sha256); "
                f"got {digest[:80]!r}."
            )
        if len(digest) == 32:
            rec = await self.store.find_by_hash(tenant_id, md5=digest, purpose=purpose)
            if rec is None:
                # Some of the tenant's recent large uploads may have had no md5 yet: wait for
                # any still pending, then ask again. Always again: a fill that committed
                # between the miss and the wait leaves nothing pending, yet the first
                # answer is stale (this race failed a test once).
                await self.md5.wait_for_tenant(tenant_id)
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

    async def content(
        self, rec: FileRecord, start: int, end: int | None, verify: bool
    ) -> bytes | Iterator[bytes]:
        """The file's bytes ``[start, end)``: at once (``bytes``) for a small file whose bytes
        the database holds, else as the blob store streams them (``read``)."""
        if rec.bytes <= INLINE_MAX_CEILING:  # small enough to have been kept inline
            data = await self.store.blob_data(rec.sha256)
            if data is not None:
                if verify and hashlib.sha256(data).hexdigest() != rec.sha256:
                    log.error("blob %s is corrupt: its bytes no longer hash to it", rec.sha256)
                    raise ApiError(
                        "The file's stored bytes failed their integrity check, so they were "
                        "not served; `vlmfiles fsck --verify-hashes` lists such files."
                    )
                return data[start:end]
        return self.read(rec, start, end, verify)

    def read(self, rec: FileRecord, start: int, end: int | None, verify: bool) -> Iterator[bytes]:
        """The file's bytes ``[start, end)`` from the blob store. A full read (``verify``)
        checks the sha256 as it goes and breaks off the response rather than end it with
        corrupt bytes."""
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
        direct = self.presigned.direct
        for up in expired:
            if direct is not None:
                await anyio.to_thread.run_sync(direct.delete_incoming, up.id)
            await self.store.delete_upload(up.id)
        if direct is not None:
            # Objects PUT to an upload URL and never verified (or PUT again after it was):
            # once every URL that could have written them has expired, they are garbage.
            await anyio.to_thread.run_sync(
                direct.sweep_incoming, self.settings.max_upload_url_expiry_seconds + STALE_SECONDS
            )
        await self.md5.sweep()
        removed = 0
        if orphans:
            known = {sha for sha, _, _ in await self.store.blob_rows()}
            stored = await anyio.to_thread.run_sync(lambda: set(self.blobs.keys()))
            for key in stored - known:
                await anyio.to_thread.run_sync(self.blobs.delete, key)
                removed += 1
        return {"staging": staging, "blobs": released, "uploads": len(expired), "orphans": removed}
