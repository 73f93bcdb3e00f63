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
_BULLET_CHARS = "•◦▪▸►‣⁃●○■□–—*¢«-"
_BULLET = re.compile(rf"^(?:[{_BULLET_CHARS}])\s+")
_NUMBERED = re.compile(r"^(\d{1,3})[.)]\s+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _escape_start(text: str) -> str:
    """'#' escaped only where it would start a heading, so "Invoice #42" reads as printed
    (the other special characters are escaped once per page, in ``page_markdown``)."""
    return "\x00" + text if text.startswith("#") else text  # "\x00": a "\\" after escaping


HEADING_MAX_WORDS = 10  # a longer line is body text whatever its size


def _heading_level(text: str, size: float, body: float) -> int:
    if body <= 0 or size <= 0 or text.count(" ") >= HEADING_MAX_WORDS:
        return 0
    ratio = size / body
    if ratio >= 1.8:
        return 1
    if ratio >= 1.4:
        return 2
    if ratio >= 1.2:  # (page_markdown checks this bound first: most lines stop there)
        return 3
    return 0


def _facts(line: Line) -> tuple[str, float, float, float, float, int]:
    """(text, top, bottom, height, size, block), read once: markdown runs on every page."""
    if len(line.words) == 1:
        w = line.words[0]
        return w.text.strip(), w.y0, w.y1, w.y1 - w.y0, w.size or w.y1 - w.y0, line.block
    size = max(w.size or w.height for w in line.words)
    return line.text.strip(), line.y0, line.y1, line.height, size, line.block


def page_markdown(page: Page) -> str:
    facts = [_facts(line) for line in page.lines]  # (text has no NUL: see _escape_start)
    sizes = sorted(f[4] for f in facts if f[4] > 0)  # 0: not looked up (see pdf._lines)
    body = sizes[len(sizes) // 2] if sizes else 0.0
    heading_size = body * 1.2 if body > 0 else float("inf")
    blocks: list[list[str]] = []  # paragraphs, headings and lists, joined by blank lines
    kind = ""
    prev_bottom, prev_height, prev_block = 0.0, 0.0, -1
    for text, top, bottom, height, size, block in facts:
        if not text:
            continue
        first = prev_block < 0
        space = top - prev_bottom
        gap = first or block != prev_block or space > 0.9 * max(prev_height, 1.0)
        near = not first and space < 1.5 * max(prev_height, 1.0)
        prev_bottom, prev_height, prev_block = bottom, height, block
        if size > heading_size and (level := _heading_level(text, size, body)):
            blocks.append(["#" * level + " " + _escape_start(text)])
            kind = "heading"
            continue
        lead = text[0]
        if lead in _BULLET_CHARS and (m := _BULLET.match(text)):
            item, new_kind = "- " + _escape_start(text[m.end() :]), "list"
        elif lead.isdigit() and (m := _NUMBERED.match(text)):
            item, new_kind = f"{m.group(1)}. " + _escape_start(text[m.end() :]), "list"
        else:
            item, new_kind = ("\x00" + text if lead == "#" else text), "text"
        if new_kind == kind == "list" and near:  # list items stay one list across blocks
            blocks[-1].append(item)
        elif gap or kind != new_kind or kind == "heading":
            blocks.append([item])
        else:
            blocks[-1].append(item)
        kind = new_kind
    # One pass over the page: the markers added above contain none of the escaped characters.
    text = _MD_SPECIAL.sub(r"\\\1", "\n\n".join("\n".join(b) for b in blocks))
    text = text.replace("\x00", "\\")
    return text + "\n" if blocks else ""
