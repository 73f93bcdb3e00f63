"""``image.classification``: what can honestly be told about an image without a model.

Four labels, each from measurements printed in the response so a reader can check them:
``blank`` (next to no variation in brightness), ``document`` (OCR finds text on a light,
grey, portrait page), ``screenshot`` (flat areas of few exact colours, a screen's aspect,
some colour, often some text) and ``photo`` (many colours and fine texture, little text). The confidence is the winning
score's margin over the runner-up, not a calibrated probability.
"""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageStat

from . import ocr

THUMB = 512  # colour statistics on a thumbnail: same answer, a fraction of the work
OCR_MAX_SIDE = 4000
LABELS = ("document", "screenshot", "photo", "blank")


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def classify(image: Image.Image, deadline: float | None = None) -> dict[str, Any]:
    width, height = image.size
    flat = ocr.flatten(image)  # grey or RGB: OCR reads either as it is
    thumb = flat.copy()
    thumb.thumbnail((THUMB, THUMB))
    gray = thumb.convert("L")
    thumb = thumb.convert("RGB")  # the colour measures below take three bands, grey or not
    stat = ImageStat.Stat(gray)
    spread = stat.stddev[0]
    mean_rgb = [round(v) for v in ImageStat.Stat(thumb).mean]
    hist = gray.histogram()
    pixels = max(1, thumb.width * thumb.height)
    light = sum(hist[200:]) / pixels
    colours = thumb.getcolors(maxcolors=pixels)
    distinct = len(colours) if colours else pixels
    top_share = max(c for c, _ in colours) / pixels if colours else 0.0
    colourfulness = _colourfulness(thumb)
    edges = ImageStat.Stat(gray.filter(ImageFilter.FIND_EDGES)).mean[0]

    if max(width, height) > OCR_MAX_SIDE:  # text that large reads as well at a lower resolution
        flat = ImageOps.contain(flat, (OCR_MAX_SIDE, OCR_MAX_SIDE))  # a copy: flat may be image
    page = ocr.read(flat, deadline=deadline)
    words = [w for w in page.words if any(ch.isalnum() for ch in w.text)]
    text_area = sum((w.x1 - w.x0) * (w.y1 - w.y0) for w in words)
    coverage = text_area / max(1.0, page.width * page.height)

    grey = 1 - _clamp(colourfulness / 15)
    portrait = 1.0 if height / max(width, 1) >= 1.2 else 0.0  # paper is taller than wide
    screen = 1.0 if 1.2 <= width / max(height, 1) <= 1.9 else 0.0  # 4:3 to 16:9 and 16:10
    scores = {
        "blank": _clamp(1.0 - spread / 6.0) if not words else 0.0,
        "document": _clamp(coverage * 15) * 0.35 + light * 0.2 + grey * 0.25 + portrait * 0.2,
        "screenshot": _clamp(top_share * 1.5) * 0.3
        + _clamp(1 - distinct / 4000) * 0.2
        + screen * 0.2
        + (0.15 if words else 0.0)
        + (1 - grey) * 0.15,
        "photo": _clamp(distinct / 8000) * 0.5
        + _clamp(colourfulness / 50) * 0.2
        + _clamp(edges / 25) * 0.1
        + _clamp(1 - coverage * 10) * 0.2,
    }
    if scores["blank"] > 0.5:
        scores = {k: (v if k == "blank" else v * 0.2) for k, v in scores.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    label, best = ranked[0]
    confidence = round(_clamp(0.5 + (best - ranked[1][1])), 2)
    text = " ".join(w.text for w in words)
    return {
        "label": label,
        "confidence": confidence,
        "decided_by": (
            "offline heuristics on measured image statistics (text coverage by OCR, "
            "brightness spread, distinct colours, colourfulness), not a learned model"
        ),
        "description": _describe(label, width, height, len(words), light, mean_rgb),
        "scores": {k: round(v, 3) for k, v in scores.items()},
        "width": width,
        "height": height,
        "mode": image.mode,
        "mean_rgb": mean_rgb,
        "light_fraction": round(light, 3),
        "distinct_colours_in_thumbnail": distinct,
        "colourfulness": round(colourfulness, 1),
        "words_read": len(words),
        "text_coverage": round(coverage, 3),
        "text_sample": text[:200] or None,
    }


def _colourfulness(img: Image.Image) -> float:
    """Hasler and Süsstrunk's colourfulness metric (0 for grey; ~100+ for vivid photos)."""
    r, g, b = img.split()
    rg_img = ImageChops.subtract(r, g, scale=1, offset=128)
    yb_img = ImageChops.subtract(ImageChops.add(r, g, scale=2), b, scale=1, offset=128)
    s_rg, s_yb = ImageStat.Stat(rg_img), ImageStat.Stat(yb_img)
    std = (s_rg.stddev[0] ** 2 + s_yb.stddev[0] ** 2) ** 0.5
    mean = ((s_rg.mean[0] - 128) ** 2 + (s_yb.mean[0] - 128) ** 2) ** 0.5
    return float(std + 0.3 * mean)


def _describe(label: str, w: int, h: int, words: int, light: float, rgb: list[int]) -> str:
    size = f"a {w}×{h} image"
    if label == "blank":
        return f"{size} with next to no content (a near-uniform colour, mean RGB {tuple(rgb)})"
    if label == "document":
        return f"{size} of a text document: {words} words read, {light:.0%} of it light background"
    if label == "screenshot":
        return f"{size} that looks like a screenshot or graphic: flat colours, {words} words read"
    return f"{size} that looks like a photograph: many colours and textures, {words} words read"
