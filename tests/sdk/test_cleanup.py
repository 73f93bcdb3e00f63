"""The spec's "Clean Up Unused Files" loop: ``file.created_at`` (aware, UTC) against a naive
``datetime.datetime.now() - timedelta(days=30)`` (local time), in any local timezone."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta, timezone

import pytest

import vlmfiles.resources._file_lists
from vlmfiles import FileResponse

from .conftest import aw, write


def made(created_at: str | datetime.datetime, purpose: str = "assistants") -> FileResponse:
    return FileResponse.model_validate(
        {"id": "file_1", "filename": "a", "bytes": 1, "purpose": purpose, "created_at": created_at}
    )


def test_created_at_compares_with_a_naive_local_cutoff():
    cutoff_date = datetime.datetime.now() - timedelta(days=30)
    utc_now = datetime.datetime.now(timezone.utc)
    old = made((utc_now - timedelta(days=31)).isoformat())
    recent = made((utc_now - timedelta(days=29)).isoformat())
    assert old.created_at < cutoff_date and not old.created_at >= cutoff_date
    assert not recent.created_at < cutoff_date and recent.created_at > cutoff_date
    # The other way round, and against aware datetimes, as plain datetimes do.
    assert cutoff_date > old.created_at and cutoff_date < recent.created_at
    assert old.created_at < cutoff_date.astimezone()
    assert recent.created_at - cutoff_date > timedelta(0)
    # The API's naive strings are UTC; the value is aware, in UTC.
    naive_api = made("2024-01-02T03:04:05")
    assert naive_api.created_at == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert naive_api.created_at.utcoffset() == timedelta(0)


TZ_SCRIPT = textwrap.dedent(
    """
    import datetime, json, os, sys, time
    from datetime import timedelta, timezone
    time.tzset()
    import vlmfiles
    from vlmfiles import FileResponse

    def made(at):
        return FileResponse.model_validate(
            {"bytes": 1, "id": "f", "filename": "f", "purpose": "assistants", "created_at": at}
        )

    utc = datetime.datetime.now(timezone.utc)
    cutoff = datetime.datetime.now() - timedelta(minutes=30)    # naive, local
    hour_old = made((utc - timedelta(hours=1)).isoformat())
    ten_min = made((utc - timedelta(minutes=10)).isoformat().replace("+00:00", "Z"))
    with vlmfiles.Client(os.environ["KEY"], os.environ["BASE_URL"]) as client:
        fresh = client.files.upload(sys.argv[1])              # created just now, by the server
    print(json.dumps({
        "offset_h": time.localtime().tm_gmtoff / 3600,
        "hour_old_is_old": hour_old.created_at < cutoff,
        "ten_min_is_old": ten_min.created_at < cutoff,
        "fresh_is_old": fresh.created_at < cutoff,
        "fresh_before_now": fresh.created_at <= datetime.datetime.now() + timedelta(seconds=5),
        "fresh_offset": fresh.created_at.utcoffset().total_seconds(),
    }))
    """
)


@pytest.mark.parametrize(
    "tz, offset_h",
    [
        ("UTC", 0),
        ("Pacific/Kiritimati", 14),  # the earliest clock on Earth
        ("Etc/GMT+12", -12),  # the latest
        ("Asia/Kolkata", 5.5),
        ("America/St_Johns", None),  # -3:30 or -2:30 (DST)
    ],
)
def test_cutoff_is_right_in_any_local_timezone(tz, offset_h, server, key, tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(64))
    env = {**os.environ, "TZ": tz, "KEY": key, "BASE_URL": server.base_url}
    out = subprocess.run(
        [sys.executable, "-c", TZ_SCRIPT, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    result = json.loads(out)
    if offset_h is not None:
        assert result["offset_h"] == offset_h  # the timezone really was in effect
    assert result == {
        **result,
        "hour_old_is_old": True,
        "ten_min_is_old": False,
        "fresh_is_old": False,
        "fresh_before_now": True,
        "fresh_offset": 0,
    }


async def test_spec_cleanup_loop_reaches_every_page(client, server, workdir, monkeypatch, capsys):
    """The loop as the spec writes it, with a cutoff in the future so that every file is
    "old": ``list()`` walks every page (10 per page here), and only ``assistants`` files go."""
    monkeypatch.setattr(vlmfiles.resources._file_lists, "PAGE", 10)
    olds, keep = [], []
    for i in range(25):
        olds.append(await aw(client.files.upload(write(f"o{i}.pdf"))))
    for i in range(3):
        keep.append(await aw(client.files.upload(write(f"b{i}.pdf"), purpose="batch")))

    cutoff_date = datetime.datetime.now() + timedelta(minutes=5)
    old_files = []

    if isinstance(client, vlmfiles.AsyncClient):
        async for file in client.files.list():
            if file.created_at < cutoff_date and file.purpose == "assistants":
                old_files.append(file.id)
    else:
        for file in client.files.list():
            if file.created_at < cutoff_date and file.purpose == "assistants":
                old_files.append(file.id)

    # Delete old files
    for file_id in old_files:
        await aw(client.files.delete(file_id))
        print(f"Deleted old file: {file_id}")

    assert sorted(old_files) == sorted(f.id for f in olds)
    assert capsys.readouterr().out == "".join(f"Deleted old file: {i}\n" for i in old_files)
    remaining = await aw(client.files.list())
    assert sorted(f.id for f in remaining) == sorted(f.id for f in keep)


async def test_spec_cleanup_loop_keeps_files_newer_than_the_cutoff(client, workdir):
    new = await aw(client.files.upload(write("new.pdf")))
    cutoff_date = datetime.datetime.now() - timedelta(days=30)
    old_files = [
        f.id
        for f in await aw(client.files.list())
        if f.created_at < cutoff_date and f.purpose == "assistants"
    ]
    assert old_files == [] and new.created_at > cutoff_date
