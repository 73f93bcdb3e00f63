"""``document.markdown``: a page's text as markdown, in reading order.

Only what the layout tells: a short line set clearly larger than the page's body text is a
heading (level by how much larger), a line that starts with a bullet or "1." is a list item,
a vertical gap or a new layout block starts a paragraph. Tables and figures are not
detected (the MarkdownDocument's ``tables``/``figures`` are left out).
"""

from __future__ import annotations

import re

from .layout import Line, Page

# "¢" and "«" are how tesseract's English model often reads a printed bullet
_BULLET = re.compile(r"^(?:[•◦▪▸►‣⁃●○■□–—*¢«-])\s+")
_NUMBERED = re.compile(r"^(\d{1,3})[.)]\s+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _escape(text: str) -> str:
    """Markdown's emphasis, link and html characters escaped; '#' only where it would start a
    heading, so "Invoice #42" reads as printed."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return "\\" + text if text.startswith("#") else text


def _heading_level(line: Line, body: float) -> int:
    if body <= 0 or len(line.text.split()) > 12:
        return 0
    size = max(w.size or w.height for w in line.words)
    ratio = size / body
    if ratio >= 1.8:
        return 1
    if ratio >= 1.4:
        return 2
    if ratio >= 1.2:
        return 3
    return 0


def page_markdown(page: Page) -> str:
    sizes = sorted(w.size or w.height for line in page.lines for w in line.words)
    body = sizes[len(sizes) // 2] if sizes else 0.0
    blocks: list[list[str]] = []  # paragraphs, headings and lists, joined by blank lines
    prev: Line | None = None
    kind = ""
    for line in page.lines:
        text = line.text.strip()
        if not text:
            continue
        gap = prev is None or (
            line.block != prev.block or line.y0 - prev.y1 > 0.9 * max(prev.height, 1.0)
        )
        prev_line, prev = prev, line
        if level := _heading_level(line, body):
            blocks.append(["#" * level + " " + _escape(text)])
            kind = "heading"
            continue
        if m := _BULLET.match(text):
            item, new_kind = "- " + _escape(text[m.end() :]), "list"
        elif m := _NUMBERED.match(text):
            item, new_kind = f"{m.group(1)}. " + _escape(text[m.end() :]), "list"
        else:
            item, new_kind = _escape(text), "text"
        near = prev_line is not None and line.y0 - prev_line.y1 < 1.5 * max(prev_line.height, 1.0)
        if new_kind == kind == "list" and near:  # list items stay one list across blocks
            blocks[-1].append(item)
        elif gap or kind != new_kind or kind == "heading":
            blocks.append([item])
        else:
            blocks[-1].append(item)
        kind = new_kind
    return "\n\n".join("\n".join(b) for b in blocks) + ("\n" if blocks else "")
