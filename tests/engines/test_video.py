"""Video frame sampling on real videos written with PyAV (tests/support/videos.py): each
second a different solid colour, so a sampled frame's colour says which second it came from."""

from __future__ import annotations

import io
import os
import re
import struct
import time
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from tests.support.videos import COLOURS, CONTAINERS, make_video
from vlmfiles.server.engines import InputRejected, JobTimeout
from vlmfiles.server.engines.video import MAX_SIDE, Frame, sample_frames

from .conftest import limits


def colour(frame: Frame) -> tuple[int, int, int]:
    """The COLOURS entry nearest the frame's centre pixel (JPEG shifts values a little)."""
    image = Image.open(io.BytesIO(frame.jpeg))
    pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return min(COLOURS, key=lambda c: sum(abs(a - b) for a, b in zip(c, pixel, strict=True)))


def sample(path: Path, segment: float | None, per: int | None, **kw: Any) -> list[Frame]:
    max_frames = kw.pop("max_frames", 100)
    return sample_frames(
        path,
        segment_seconds=segment,
        frames_per_segment=per,
        limits=limits(**kw),
        name=path.name,
        max_frames=max_frames,
    )


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("video") / "colours.mp4")


def test_one_frame_per_second_has_that_seconds_colour(video: Path) -> None:
    frames = sample(video, 1.0, 1)
    assert [round(f.seconds, 1) for f in frames] == [0.5, 1.5, 2.5]
    assert [colour(f) for f in frames] == COLOURS[:3]
    assert all((f.width, f.height) == (64, 48) for f in frames)
    assert all(f.jpeg.startswith(b"\xff\xd8") for f in frames)


def test_frames_per_segment_are_evenly_spaced_within_each_segment(video: Path) -> None:
    frames = sample(video, 1.5, 2)
    # Segments [0, 1.5) and [1.5, 3): slices' middles at 0.375, 1.125, 1.875, 2.625.
    assert [f.seconds for f in frames] == pytest.approx([0.3, 1.1, 1.8, 2.6], abs=0.01)
    assert [colour(f) for f in frames] == [COLOURS[0], COLOURS[1], COLOURS[1], COLOURS[2]]


def test_defaults_take_one_frame_from_the_middle_of_the_whole_video(video: Path) -> None:
    frames = sample(video, None, None)
    assert len(frames) == 1
    assert frames[0].seconds == pytest.approx(1.5, abs=0.01)
    assert colour(frames[0]) == COLOURS[1]


def test_a_short_last_segment_is_sampled_within_itself(tmp_path: Path) -> None:
    path = make_video(tmp_path / "four.mp4", seconds=4)
    frames = sample(path, 3.0, 1)
    # Segments [0, 3) and [3, 4): the second's middle is 3.5, not 4.5 past the end.
    assert [f.seconds for f in frames] == pytest.approx([1.5, 3.5], abs=0.01)
    assert [colour(f) for f in frames] == [COLOURS[1], COLOURS[3]]


def test_a_segment_longer_than_the_video_is_the_whole_video(video: Path) -> None:
    frames = sample(video, 60.0, 3)
    assert [colour(f) for f in frames] == COLOURS[:3]


@pytest.mark.parametrize(("fmt", "codec", "suffix"), [c[:3] for c in CONTAINERS])
def test_common_containers(tmp_path: Path, fmt: str, codec: str, suffix: str) -> None:
    path = make_video(tmp_path / f"v.{suffix}", fmt=fmt, codec=codec)
    assert [colour(f) for f in sample(path, 1.0, 1)] == COLOURS[:3]


def test_a_wide_frame_is_downscaled_to_the_bounded_side(tmp_path: Path) -> None:
    path = make_video(tmp_path / "wide.mp4", seconds=1, size=(MAX_SIDE * 2, 64))
    [frame] = sample(path, None, 1)
    assert (frame.width, frame.height) == (MAX_SIDE, 32)
    assert Image.open(io.BytesIO(frame.jpeg)).size == (MAX_SIDE, 32)


def test_more_frames_than_the_limit_are_refused_naming_the_fields(video: Path) -> None:
    with pytest.raises(InputRejected) as exc:
        sample(video, 0.5, 4, max_frames=10)
    message = str(exc.value)
    assert "colours.mp4" in message and "24 frames" in message and "limit is 10" in message
    assert "video_segment_duration" in message and "video_frames_per_segment" in message


def test_frames_over_the_pixel_limit_are_refused_before_decoding(video: Path) -> None:
    with pytest.raises(InputRejected, match=r"64x48 = 3072 pixels; the limit is 3000"):
        sample(video, 1.0, 1, max_pixels=3000)


def test_the_deadline_stops_sampling(video: Path) -> None:
    with pytest.raises(JobTimeout, match="colours.mp4"):
        sample(video, 1.0, 1, deadline=time.monotonic() - 1)


@pytest.mark.parametrize(
    ("segment", "per", "field"),
    [
        (0.0, 1, "video_segment_duration"),
        (-1.0, 1, "video_segment_duration"),
        (float("nan"), 1, "video_segment_duration"),
        (1.0, 0, "video_frames_per_segment"),
        (float("inf"), 1, "video_segment_duration"),
        ("2", 1, "video_segment_duration"),
        (True, 1, "video_segment_duration"),
        (1.0, 1.5, "video_frames_per_segment"),
        (1.0, "2", "video_frames_per_segment"),
        (1.0, True, "video_frames_per_segment"),
    ],
)
def test_nonsense_config_is_refused(video: Path, segment: Any, per: Any, field: str) -> None:
    with pytest.raises(InputRejected, match=field):
        sample(video, segment, per)


def _png(path: Path) -> Path:
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path, format="PNG")
    return path


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
        pytest.param(lambda p: p.write_bytes(os.urandom(20_000)), id="random-bytes"),
        pytest.param(lambda p: p.write_bytes(b"hello, not a video\n" * 50), id="text"),
        pytest.param(_png, id="png-renamed"),
    ],
)
def test_a_file_that_is_not_a_video_is_refused_naming_it(tmp_path: Path, write: Any) -> None:
    path = tmp_path / "clip.mp4"
    write(path)
    with pytest.raises(InputRejected, match="clip.mp4"):
        sample(path, 1.0, 1)


def test_a_truncated_video_is_refused_naming_it(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(InputRejected, match="cut.mp4"):
        sample(path, 1.0, 1)


@pytest.mark.parametrize(
    ("fmt", "suffix", "keep", "says"),
    [
        ("matroska", "mkv", 0.6, r"frames end at \d\.\d s, before the 2\.5 s its header promises"),
        ("matroska", "mkv", 0.4, r"could not be decoded near|frames end at"),
        ("avi", "avi", 0.4, r"not a video this server can read"),
    ],
)
def test_a_stream_cut_short_of_its_header_is_refused(
    tmp_path: Path, fmt: str, suffix: str, keep: float, says: str
) -> None:
    path = make_video(tmp_path / f"whole.{suffix}", fmt=fmt)
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])
    with pytest.raises(InputRejected, match=f"cut.{suffix}") as exc:
        sample(cut, 1.0, 1)
    assert re.search(says, str(exc.value))


def test_an_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=8000)
        frame.sample_rate = 8000
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(InputRejected, match="tone.wav has no video stream"):
        sample(path, 1.0, 1)


def _avi_forever(data: bytes) -> bytearray:
    """The AVI's main and stream headers claim 2^31 frames (about seven years)."""
    out = bytearray(data)
    struct.pack_into("<I", out, out.find(b"avih") + 8 + 16, 0x7FFFFFF0)  # dwTotalFrames
    struct.pack_into("<I", out, out.find(b"strh") + 8 + 32, 0x7FFFFFF0)  # dwLength
    return out


def _mkv_forever(data: bytes) -> bytearray:
    """The Matroska segment's Duration element claims 10^12 seconds."""
    out = bytearray(data)
    at = out.find(b"\x44\x89\x88")  # Duration, an 8-byte float (in milliseconds)
    struct.pack_into(">d", out, at + 3, 1e15)
    return out


@pytest.mark.parametrize(
    ("fmt", "suffix", "patch"), [("avi", "avi", _avi_forever), ("matroska", "mkv", _mkv_forever)]
)
def test_an_absurd_header_duration_is_bounded(
    tmp_path: Path, fmt: str, suffix: str, patch: Any
) -> None:
    path = make_video(tmp_path / f"real.{suffix}", fmt=fmt)
    forever = tmp_path / f"forever.{suffix}"
    forever.write_bytes(patch(path.read_bytes()))
    with pytest.raises(InputRejected, match="limit is 100"):
        sample(forever, 1.0, 1)
    # One frame from the middle of "forever": the seek lands at the real end, which says so.
    with pytest.raises(InputRejected, match=r"frames end at 2\.9 s, before the"):
        sample(forever, None, 1)


def test_a_whole_number_of_seconds_is_a_segment_length(video: Path) -> None:
    assert [colour(f) for f in sample(video, 1, 1)] == COLOURS[:3]
