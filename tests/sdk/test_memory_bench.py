"""The small form of ``bench/sdk_memory.py``: the SDK streams uploads and downloads, so a
64 MiB round trip grows the client's RSS by well under 64 MiB (memory, not time: not flaky)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.sdk_memory import measure, parse_size

SIZE = 64 * 2**20


def test_parse_size() -> None:
    assert parse_size("2G") == 2 * 2**30
    assert parse_size("64MiB") == 64 * 2**20
    assert parse_size("512k") == 512 * 2**10
    assert parse_size("1000") == 1000


@pytest.mark.parametrize("method", ["direct", "presigned-url"])
def test_round_trip_memory_stays_flat(server, key: str, tmp_path: Path, method: str) -> None:
    result = measure(server.base_url, key, SIZE, tmp_path, method=method)
    assert result["intact"]
    assert result["upload_mib"] < 64, result
    assert result["download_mib"] < 64, result
