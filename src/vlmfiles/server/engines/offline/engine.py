"""The offline engine: pypdfium2 and tesseract, nothing downloaded, no model weights.

Each input is checked (``guards``) before any page or pixel is decoded, then read one page
at a time: a PDF page's text layer when it has one, else its rendering through OCR; an
image through OCR. ``Limits.deadline`` is checked between pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..base import Engine, EngineInput, EngineResult, InputRejected, Limits
from . import classify, guards, invoice, markdown, ocr, pdf
from .fields import Document
from .layout import Page

FIELD_END_PAGES = 10  # invoice/receipt fields: at most this many pages from each end

DOMAINS = {
    "document.markdown": "The document's text as markdown, page by page, in reading order",
    "document.invoice": "Invoice fields (vlmrun-hub schema) located from the words and their positions",
    "document.receipt": "Receipt fields (vlmrun-hub schema) located from the words and their positions",
    "image.classification": "document / screenshot / photo / blank, from measured image statistics",
}


class OfflineEngine:
    """Serves ``DOMAINS`` with pypdfium2 (text layer, rendering) and tesseract (OCR)."""

    name = "offline"

    def domains(self) -> Mapping[str, str]:
        return DOMAINS

    def run(
        self,
        domain: str,
        inputs: Sequence[EngineInput],
        config: Mapping[str, Any],
        limits: Limits,
    ) -> EngineResult:
        if domain not in DOMAINS:
            raise InputRejected(
                f"the offline engine does not serve {domain!r}; it serves {', '.join(DOMAINS)}"
            )
        if not inputs:
            raise InputRejected("no input: send one PDF or one or more images")
        for item in inputs:
            guards.check_not_empty(item)
        if domain == "image.classification":
            return self._classify(inputs, limits)
        selected = config.get("page_indices") if isinstance(config, Mapping) else None
        reader = _Reader(limits, selected if isinstance(selected, list) else None)
        if domain == "document.markdown":
            pages = [
                {"content": markdown.page_markdown(page)}
                for page in reader.pages(inputs, words=False)
            ]
            response: dict[str, Any] = {"pages": pages}
        else:
            doc = Document(list(reader.pages(inputs, words=True)))
            response = (
                invoice.invoice(doc) if domain == "document.invoice" else invoice.receipt(doc)
            )
        return EngineResult(response, reader.count, reader.element_type, reader.engine_name)

    def _classify(self, inputs: Sequence[EngineInput], limits: Limits) -> EngineResult:
        results = []
        for item in inputs:
            guards.check_deadline(limits, f"before {item.name}")
            if item.media_type not in guards.IMAGE_TYPES:
                raise InputRejected(
                    f"image.classification takes images ({', '.join(sorted(guards.IMAGE_TYPES))}); "
                    f"{item.name} is {item.media_type}"
                )
            with guards.open_image(item.path, limits, item.name) as img:
                results.append(classify.classify(img, limits.deadline))
        response = dict(results[0])
        if len(results) > 1:
            response["images"] = results
        return EngineResult(response, len(results), "image", "offline/heuristics+tesseract")


class _Reader:
    """Pages of every input in turn, counting them and remembering which reader read them."""

    def __init__(self, limits: Limits, selected: list[int] | None) -> None:
        self.limits, self.selected = limits, selected
        self.count = 0
        self.sources: set[str] = set()
        self.element_type: Literal["page", "image"] = "image"

    @property
    def engine_name(self) -> str:
        names = {"text-layer": "pdfium", "ocr": "tesseract"}
        used = [names[s] for s in ("text-layer", "ocr") if s in self.sources]
        return "offline/" + ("+".join(used) or "none")

    def pages(self, inputs: Sequence[EngineInput], *, words: bool) -> Iterator[Page]:
        for item in inputs:
            if item.media_type == guards.PDF:
                yield from self._pdf(item, words)
            elif item.media_type in guards.IMAGE_TYPES:
                guards.check_deadline(self.limits, f"before {item.name}")
                with guards.open_image(item.path, self.limits, item.name) as img:
                    page = ocr.read(img, self.count + 1, deadline=self.limits.deadline)
                yield self._seen(page)
            else:
                raise InputRejected(
                    f"{item.name} is {item.media_type}; this domain takes a PDF or an image "
                    f"({', '.join(sorted(guards.IMAGE_TYPES))})"
                )

    def _pdf(self, item: EngineInput, words: bool) -> Iterator[Page]:
        self.element_type = "page"  # usage counts pages when any input is a PDF, else images
        doc = pdf.open_pdf(item.path, self.limits, item.name)
        selected = self.selected
        if words and selected is None and len(doc) > 2 * FIELD_END_PAGES:
            # Fields keep every word of every page read: a long document's first and last
            # pages hold its parties, numbers and totals, and memory stays bounded.
            count = len(doc)
            selected = [*range(FIELD_END_PAGES), *range(count - FIELD_END_PAGES, count)]
        try:
            for read in pdf.pages(doc, self.limits, item.name, words=words, selected=selected):
                guards.check_deadline(self.limits, f"at page {read.number} of {item.name}")
                if read.page is not None:
                    yield self._seen(read.page)
                else:
                    assert read.image is not None
                    page = ocr.read(read.image, read.number, read.dpi, self.limits.deadline)
                    read.image.close()
                    yield self._seen(page)
        finally:
            doc.close()

    def _seen(self, page: Page) -> Page:
        self.count += 1
        self.sources.add(page.source)
        return page


if TYPE_CHECKING:  # mypy checks that the class meets the protocol the pipeline calls
    _engine: Engine = OfflineEngine()
