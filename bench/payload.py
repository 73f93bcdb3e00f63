"""Benchmark payloads: large files made of a random block repeated, unique per run.

Writing a real file of the size is part of the set-up (the SDK uploads from a path)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1024 * 1024


@dataclass
class Payload:
    size: int
    prefix: bytes = field(default_factory=lambda: os.urandom(64))
    block: bytes = field(default_factory=lambda: os.urandom(MiB))

    def blocks(self) -> Iterator[bytes]:
        yield self.prefix
        remaining = self.size - len(self.prefix)
        while remaining > 0:
            chunk = self.block[: min(MiB, remaining)]
            remaining -= len(chunk)
            yield chunk

    def write(self, path: Path) -> Path:
        with open(path, "wb") as f:
            for b in self.blocks():
                f.write(b)
        return path
