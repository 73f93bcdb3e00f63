"""``vlmfiles fsck``: check that metadata and blobs agree, and optionally repair.

What it looks for:

| problem            | meaning                                                  | --repair          |
|--------------------|----------------------------------------------------------|-------------------|
| missing blob       | a blob row (and its files) whose bytes are neither in the database nor the store | reported only |
| size mismatch      | stored bytes of another length than recorded             | reported only     |
| corrupt blob       | (``--verify-hashes``) bytes whose sha256 is not their key | reported only     |
| orphan object      | bytes in the store that no blob row knows                | deleted           |
| unreferenced blob  | a blob row no file references                            | released          |
| stale staging      | staged bytes of dead writers                             | removed           |

A small blob's bytes may be kept in the database (``blob_data``) rather than the store; those
are checked there.

A blob whose md5 is still pending (a large upload's md5 is computed after its answer) is not
a problem: the server fills it. ``--repair`` fills it at once.

Missing and corrupt blobs are never "repaired" by deleting records: a person decides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import anyio

from .service import STALE_SECONDS, FileService


@dataclass
class Report:
    checked_blobs: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def _sha256_of(service: FileService, key: str) -> str:
    h = hashlib.sha256()
    for chunk in service.blobs.read(key):
        h.update(chunk)
    return h.hexdigest()


async def fsck(
    service: FileService, *, verify_hashes: bool = False, repair: bool = False
) -> Report:
    report = Report()
    rows = await service.store.blob_rows()
    known = {sha for sha, _, _ in rows}
    inline = await service.store.blob_data_sizes()
    for sha, _md5, size in rows:
        report.checked_blobs += 1
        if sha in inline:
            if inline[sha] != size:
                report.problems.append(
                    f"size mismatch for blob {sha}: {inline[sha]} in the database, {size} recorded"
                )
            elif verify_hashes:
                data = await service.store.blob_data(sha)
                if data is None or hashlib.sha256(data).hexdigest() != sha:
                    report.problems.append(
                        f"corrupt blob {sha}: its bytes no longer hash to its key"
                    )
            continue
        stored = await anyio.to_thread.run_sync(service.blobs.size, sha)
        if stored is None:
            report.problems.append(f"missing blob {sha}: its bytes are not in the store")
            continue
        if stored != size:
            report.problems.append(
                f"size mismatch for blob {sha}: {stored} stored, {size} recorded"
            )
            continue
        if verify_hashes and await anyio.to_thread.run_sync(_sha256_of, service, sha) != sha:
            report.problems.append(f"corrupt blob {sha}: its bytes no longer hash to its key")

    stored_keys = await anyio.to_thread.run_sync(lambda: set(service.blobs.keys()))
    for key in sorted(stored_keys - known):
        report.problems.append(f"orphan object {key}: in the store, unknown to the metadata")
        if repair:
            await anyio.to_thread.run_sync(service.blobs.delete, key)
            report.repaired.append(f"deleted orphan object {key}")

    for sha in await service.store.unreferenced_blobs():
        report.problems.append(f"unreferenced blob {sha}: no file uses it")
        if repair and await service.release_blob(sha):
            report.repaired.append(f"released unreferenced blob {sha}")

    if repair:
        for sha in await service.store.pending_md5(limit=len(rows) + 1):
            await service.md5.fill(sha)
            report.repaired.append(f"computed the pending md5 of blob {sha}")
        removed = await anyio.to_thread.run_sync(service.blobs.sweep_staging, STALE_SECONDS)
        if removed:
            report.repaired.append(f"removed {removed} stale staging object(s)")
    return report
