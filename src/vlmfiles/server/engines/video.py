"""A video as the few still frames a vision model can take: sampled by seeking, one at a time.

The video is cut into segments of ``segment_seconds`` (default: the whole video is one
segment) and ``frames_per_segment`` evenly spaced frames (default 1) are taken from each, at
the middle of equal slices of the segment. Each frame is found by seeking to the nearest
keyframe before it and decoding forward, so memory holds one frame, never the stream; it is
downscaled to fit ``MAX_SIDE`` and encoded as JPEG.

Hostile input raises ``InputRejected`` (not a video, truncated, empty, no video stream, too
many pixels, too many frames asked) or ``JobTimeout`` (``limits.deadline``, checked between
frames and while decoding forward to a frame).
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass
from pathlib import Path

import av
from av.video.stream import VideoStream

from .base import InputRejected, JobTimeout, Limits

__all__ = ["MAX_SIDE", "Frame", "sample_frames"]

MAX_SIDE = 1024  # longest side of a sampled frame: what vision models resize to anyway
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Frame:
    jpeg: bytes
    seconds: float  # timestamp in the video
    width: int
    height: int


def sample_frames(
    path: Path,
    *,
    segment_seconds: float | None,
    frames_per_segment: int | None,
    limits: Limits,
    name: str,
    max_frames: int,
) -> list[Frame]:
    """The sampled frames of the video at ``path``, in time order."""
    per_segment = 1 if frames_per_segment is None else frames_per_segment
    # The values come from a request's JSON: a string or a bool is a user's mistake, not a bug.
    if type(per_segment) is not int or per_segment < 1:
        raise InputRejected(
            f"config.video_frames_per_segment must be a whole number, at least 1; "
            f"it is {per_segment!r}."
        )
    if segment_seconds is not None and not (
        type(segment_seconds) in (int, float) and 0 < segment_seconds < math.inf
    ):
        raise InputRejected(
            "config.video_segment_duration must be a positive number of seconds; "
            f"it is {segment_seconds!r}."
        )
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InputRejected(
            f"{name} is not a video this server can read (FFmpeg: {_reason(exc)}); "
            "send an MP4, MOV, WebM, MKV or AVI file."
        ) from exc
    with container:
        if not container.streams.video:
            hint = "" if container.streams else " (a truncated MP4 loses its index and looks so)"
            raise InputRejected(f"{name} has no video stream{hint}.")
        stream = container.streams.video[0]
        _check_pixels(stream, limits, name)
        duration = _duration(container, stream)
        if duration is None:
            raise InputRejected(f"{name} does not say how long it is; it may be truncated.")
        seg, segments = _segments(duration, segment_seconds)
        if segments * per_segment > max_frames:
            raise InputRejected(
                f"{name} would need {segments * per_segment} frames ({duration:.1f} s, "
                f"config.video_segment_duration={segment_seconds}, "
                f"config.video_frames_per_segment={per_segment}); the limit is {max_frames}. "
                "Use a longer video_segment_duration or fewer video_frames_per_segment."
            )
        frames = []
        for t in _sample_times(duration, seg, segments, per_segment):
            if time.monotonic() > limits.deadline:
                raise JobTimeout(f"The job ran past its deadline while sampling {name}.")
            frames.append(_frame_at(container, stream, t, limits, name))
    if not frames:
        raise InputRejected(f"{name} has no decodable video frames.")
    return frames


def _segments(duration: float, segment: float | None) -> tuple[float, int]:
    """The segment length and how many segments cover ``duration`` (the last may be short)."""
    seg = duration if segment is None or segment >= duration else segment
    # A float count first: an absurd header duration is rejected by max_frames, never looped.
    return seg, max(1, math.ceil(duration / seg - 1e-9))


def _sample_times(duration: float, seg: float, segments: int, per_segment: int) -> list[float]:
    """Evenly spaced times: the middle of ``per_segment`` equal slices of each segment."""
    times: list[float] = []
    for s in range(segments):
        start = s * seg
        length = min(seg, duration - start)
        times.extend(start + length * (i + 0.5) / per_segment for i in range(per_segment))
    return times


def _duration(container: av.container.InputContainer, stream: VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _check_pixels(stream: VideoStream, limits: Limits, name: str) -> None:
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise InputRejected(f"{name}'s video stream does not say its frame size.")
    if width * height > limits.max_pixels:
        raise InputRejected(
            f"{name}'s frames are {width}x{height} = {width * height} pixels; "
            f"the limit is {limits.max_pixels}."
        )


def _frame_at(
    container: av.container.InputContainer,
    stream: VideoStream,
    seconds: float,
    limits: Limits,
    name: str,
) -> Frame:
    """The last frame at or before ``seconds`` (the first frame when none is before it)."""
    assert stream.time_base is not None
    target = int(seconds / stream.time_base) + (stream.start_time or 0)
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
        chosen, ended = None, False
        for frame in container.decode(stream):
            if time.monotonic() > limits.deadline:
                raise JobTimeout(f"The job ran past its deadline while sampling {name}.")
            if frame.width * frame.height > limits.max_pixels:
                raise InputRejected(
                    f"{name} has a {frame.width}x{frame.height} frame; "
                    f"the limit is {limits.max_pixels} pixels."
                )
            if chosen is not None and frame.pts is not None and frame.pts > target:
                break
            chosen = frame
            if frame.pts == target:
                break
        else:
            ended = True
    except av.FFmpegError as exc:
        raise InputRejected(
            f"{name} could not be decoded near {seconds:.1f} s (FFmpeg: {_reason(exc)}); "
            "it may be truncated or damaged."
        ) from exc
    if chosen is None:
        raise InputRejected(
            f"{name} has no decodable frame near {seconds:.2f} s; it may be truncated."
        )
    at = float(chosen.time) - _start(stream) if chosen.time is not None else seconds
    # Frames stop well before the time the header promised: truncated, or a lying header.
    if ended and seconds - at > max(1.0, 2 / float(stream.average_rate or 1)):
        raise InputRejected(
            f"{name}'s frames end at {at:.1f} s, before the {seconds:.1f} s its header "
            "promises; it may be truncated."
        )
    scale = min(1.0, MAX_SIDE / max(chosen.width, chosen.height))
    width, height = max(1, round(chosen.width * scale)), max(1, round(chosen.height * scale))
    # Scaled by FFmpeg before PIL sees it: a full-size RGB copy is never made.
    small = chosen.reformat(width=width, height=height, format="rgb24")
    image = small.to_image()  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return Frame(jpeg=out.getvalue(), seconds=at, width=width, height=height)


def _start(stream: VideoStream) -> float:
    if stream.start_time and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc).rstrip(".")
