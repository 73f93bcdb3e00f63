"""Keep glibc's allocator from holding on to freed upload buffers.

An upload moves through 1 MiB batches and 8 MiB S3 parts, allocated and freed by many
threads. glibc serves such sizes with mmap at first, but after the first free it raises its
mmap threshold to the freed size (up to 32 MiB), and later buffers come from per-thread
arenas that are rarely given back: under many concurrent uploads to S3 the server's RSS
grows by far more with the default than with a fixed 1 MiB threshold. Setting the
threshold with ``mallopt`` fixes it and turns the dynamic adjustment off; it is what
``MALLOC_MMAP_THRESHOLD_`` does, but that must be set before the process starts.

No library exposes ``mallopt``; this is a few lines of ctypes, and a no-op off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
THRESHOLD = 1024 * 1024

log = logging.getLogger("vlmfiles.server")


def return_large_buffers_to_the_os() -> bool:
    """Allocations of 1 MiB and more get their own mapping, released on free."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        log.debug("mallopt unavailable; allocator left as it is")
        return False
