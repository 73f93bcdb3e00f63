"""Small real videos written with PyAV: second n is ``COLOURS[n]`` all over, so a sampled
frame's colour says which second it came from.

    make_video(path, seconds=3, size=(64, 48), fmt="mp4", codec="mpeg4")
"""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
FPS = 10

# (PyAV container format, encoder, file suffix, the media type sniffing must report)
CONTAINERS = [
    ("mp4", "libx264", "mp4", "video/mp4"),
    ("mov", "mpeg4", "mov", "video/quicktime"),
    ("webm", "libvpx", "webm", "video/webm"),
    ("matroska", "mpeg4", "mkv", "video/x-matroska"),
    ("avi", "mpeg4", "avi", "video/x-msvideo"),
]


def make_video(
    path: Path,
    *,
    seconds: int = 3,
    size: tuple[int, int] = (64, 48),
    fmt: str = "mp4",
    codec: str = "mpeg4",
) -> Path:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(seconds * FPS):
            image = Image.new("RGB", size, COLOURS[i // FPS % len(COLOURS)])
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
