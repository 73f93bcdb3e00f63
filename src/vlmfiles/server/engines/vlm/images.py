"""Inputs as the model sees them: ``image_url`` parts holding JPEG data URLs.

Images are opened through the offline engine's guards (pixels checked from the header
before decoding); PDF pages are rendered with pypdfium2, one page at a time, at the size
``config.detail`` asks for; a video is sampled into frames (``engines/video.py``,
``config.video_*``). Audio is refused with what to send instead.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from .. import video
from ..base import EngineInput, InputRejected, Limits
from ..offline import guards, pdf

# The longest side sent for each ``config.detail``: "lo" is cheap, "hi" keeps small print.
LONG_SIDE = {"lo": 768, "auto": 1536, "hi": 2048}
OPENAI_DETAIL = {"lo": "low", "auto": "auto", "hi": "high"}
MAX_IMAGES = 32  # images or pages in one request to the model; more need config.page_indices
JPEG_QUALITY = 85


@dataclass
class Parts:
    parts: list[dict[str, Any]]
    element_type: Literal["page", "image"]


def image_parts(inputs: Sequence[EngineInput], config: Mapping[str, Any], limits: Limits) -> Parts:
    detail = config.get("detail", "auto")
    if detail not in LONG_SIDE:
        raise InputRejected(f"config.detail is {detail!r}; it takes 'lo', 'hi' or 'auto'")
    selected = config.get("page_indices")
    if selected is not None and not (
        isinstance(selected, list) and all(isinstance(i, int) for i in selected)
    ):
        raise InputRejected("config.page_indices must be a list of 0-based page numbers")
    parts: list[dict[str, Any]] = []
    element_type: Literal["page", "image"] = "image"
    for item in inputs:
        guards.check_not_empty(item)
        guards.check_deadline(limits, f"before {item.name}")
        kind = item.media_type.split("/")[0]
        if item.media_type == guards.PDF:
            element_type = "page"
            images: Iterator[Image.Image] = _pdf_pages(item, limits, detail, selected)
        elif item.media_type in guards.IMAGE_TYPES:
            images = iter([guards.open_image(item.path, limits, item.name)])
        elif kind == "video":
            images = _video_frames(item, config, limits, MAX_IMAGES - len(parts))
        elif kind == "audio":
            raise InputRejected(
                f"{item.name} is audio; a vision model cannot take audio: send an image or a PDF"
            )
        else:
            raise InputRejected(
                f"{item.name} is {item.media_type}; the model engine takes a PDF or images "
                f"({', '.join(sorted(guards.IMAGE_TYPES))})"
            )
        for img in images:
            if len(parts) >= MAX_IMAGES:
                img.close()
                raise InputRejected(
                    f"more than {MAX_IMAGES} pages or images in one request; choose pages "
                    "with config.page_indices (0-based)"
                )
            with img:
                parts.append(_part(img, detail))
    if not parts:
        raise InputRejected("no input: send one PDF or one or more images")
    return Parts(parts, element_type)


def _video_frames(
    item: EngineInput, config: Mapping[str, Any], limits: Limits, room: int
) -> Iterator[Image.Image]:
    """The frames ``config.video_*`` asks for, each sent as an image."""
    frames = video.sample_frames(
        item.path,
        segment_seconds=config.get("video_segment_duration"),
        frames_per_segment=config.get("video_frames_per_segment"),
        limits=limits,
        name=item.name,
        max_frames=room,
    )
    for frame in frames:
        yield Image.open(io.BytesIO(frame.jpeg))


def _pdf_pages(
    item: EngineInput, limits: Limits, detail: str, selected: list[int] | None
) -> Iterator[Image.Image]:
    doc = pdf.open_pdf(item.path, limits, item.name)
    try:
        count = len(doc)
        for index in selected if selected is not None else range(count):
            if not 0 <= index < count:
                raise InputRejected(
                    f"config.page_indices has {index}, out of range: {item.name} has {count} "
                    f"pages (0 to {count - 1})"
                )
            guards.check_deadline(limits, f"at page {index + 1} of {item.name}")
            page = doc[index]
            try:
                width, height = page.get_size()
                scale = LONG_SIDE[detail] / max(width, height, 1.0)
                w, h = int(width * scale), int(height * scale)
                if w * h > limits.max_pixels:
                    scale *= (limits.max_pixels / (w * h)) ** 0.5
                    w, h = int(width * scale), int(height * scale)
                guards.check_pixels(w, h, limits, f"{item.name} page {index + 1}")
                bitmap = page.render(scale=scale)
                try:
                    yield bitmap.to_pil().copy()  # the bitmap's buffer goes with close()
                finally:
                    bitmap.close()
            finally:
                page.close()
    finally:
        doc.close()


def _part(img: Image.Image, detail: str) -> dict[str, Any]:
    side = LONG_SIDE[detail]
    if max(img.size) > side:
        img = img.copy()
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=JPEG_QUALITY)
    url = "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()
    return {"type": "image_url", "image_url": {"url": url, "detail": OPENAI_DETAIL[detail]}}
